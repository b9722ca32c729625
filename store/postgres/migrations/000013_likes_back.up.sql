-- Demo users who like back (issue 15): swiperctl seed makes a few such
-- users, and in dev a node likes back, for them, whoever likes them, so a
-- lone visitor of a fresh `make run` gets a match to chat in. A column, not
-- a table: the flag goes with its user, deletion included.
ALTER TABLE users ADD COLUMN likes_back boolean NOT NULL DEFAULT false;
