-- Undoes 000013.
ALTER TABLE users DROP COLUMN likes_back;
