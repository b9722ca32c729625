-- Undoes 000012: no delete jobs (pending ones are dropped: their objects
-- stay), uploads reference their users again.
DROP INDEX uploads_uid;
DELETE FROM uploads WHERE kind = 'delete';
ALTER TABLE uploads DROP CONSTRAINT uploads_data;
ALTER TABLE uploads ADD CONSTRAINT uploads_check CHECK (status = 'done' OR data IS NOT NULL);
ALTER TABLE uploads DROP COLUMN kind;
DELETE FROM uploads WHERE uid NOT IN (SELECT id FROM users);
ALTER TABLE uploads ADD CONSTRAINT uploads_uid_fkey FOREIGN KEY (uid) REFERENCES users (id);
