DROP FUNCTION swipe_batch(int8[], int8[], text[], int8[]);
DROP INDEX swipes_superliked;
DROP INDEX users_candidates;
CREATE INDEX users_candidates ON users (location, sex, birthday);
DROP TABLE rewinds;
