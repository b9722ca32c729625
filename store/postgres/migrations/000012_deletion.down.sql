-- Undoes 000012 (read_messages keeps its 000012 form until 000011's down drops it).
DROP INDEX reports_reporter;
DELETE FROM friendships f WHERE NOT EXISTS (SELECT FROM users u WHERE u.id = f.uid1)
    OR NOT EXISTS (SELECT FROM users u WHERE u.id = f.uid2);
ALTER TABLE friendships ADD CONSTRAINT friendships_uid1_fkey FOREIGN KEY (uid1) REFERENCES users (id);
ALTER TABLE friendships ADD CONSTRAINT friendships_uid2_fkey FOREIGN KEY (uid2) REFERENCES users (id);
CREATE OR REPLACE FUNCTION friendship_ended() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM messages WHERE lo = OLD.uid1 AND hi = OLD.uid2;
    RETURN NULL;
END
$$;
-- Undoes 000012: no delete jobs (pending ones are dropped: their objects
-- stay), uploads reference their users again.
DROP INDEX uploads_uid;
DELETE FROM uploads WHERE kind = 'delete';
ALTER TABLE uploads DROP CONSTRAINT uploads_data;
ALTER TABLE uploads ADD CONSTRAINT uploads_check CHECK (status = 'done' OR data IS NOT NULL);
ALTER TABLE uploads DROP COLUMN kind;
DELETE FROM uploads WHERE uid NOT IN (SELECT id FROM users);
ALTER TABLE uploads ADD CONSTRAINT uploads_uid_fkey FOREIGN KEY (uid) REFERENCES users (id);
