-- Undoes 000011: no conversations.
DROP FUNCTION read_messages(int8, int8, int8, int8);
DROP FUNCTION send_message(int8, int8, text, text, int8);
DROP TRIGGER friendship_ended ON friendships;
DROP FUNCTION friendship_ended();
DROP FUNCTION append_events(int8[], text[], int8[], text[], int8[], int8[]);
DELETE FROM events WHERE type IN ('message', 'read');
ALTER TABLE events DROP COLUMN ref;
DROP TABLE messages;
ALTER TABLE friendships
    DROP COLUMN last_message, DROP COLUMN active_at, DROP COLUMN read1, DROP COLUMN read2,
    DROP COLUMN unread1, DROP COLUMN unread2;
