-- Account deletion (API.md, "Safety": DELETE /api/v1/me). The user's rows
-- go in one transaction (SocialStore.DeleteUser); what it stored in object
-- storage goes after, by jobs of the upload machinery: a "delete" job per
-- object key, claimed, leased, retried with backoff and parked as failed
-- for an operator exactly as an upload is. A delete job outlives its user,
-- so uploads.uid no longer references users.
ALTER TABLE uploads DROP CONSTRAINT uploads_uid_fkey;
ALTER TABLE uploads ADD COLUMN kind text NOT NULL DEFAULT 'put' CHECK (kind IN ('put', 'delete'));
ALTER TABLE uploads DROP CONSTRAINT uploads_check;
ALTER TABLE uploads ADD CONSTRAINT uploads_data CHECK (status = 'done' OR data IS NOT NULL OR kind = 'delete');

-- A deletion finds every job of the user, in any state.
CREATE INDEX uploads_uid ON uploads (uid);

-- The reports cascade of a deletion finds a reporter's reports by key, not
-- by scanning the table (reports_open_pair covers open ones only).
CREATE INDEX reports_reporter ON reports (reporter_id);

-- A conversation's message events go with its messages: a stream replayed
-- after an unmatch does not wade through thousands of events it would skip.
CREATE OR REPLACE FUNCTION friendship_ended() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    WITH m AS (DELETE FROM messages WHERE lo = OLD.uid1 AND hi = OLD.uid2 RETURNING id)
    DELETE FROM events e USING m
    WHERE e.uid IN (OLD.uid1, OLD.uid2) AND e.type = 'message' AND e.ref = m.id;
    RETURN NULL;
END
$$;

-- read_messages as in 000011, but the marker stops at the friend's latest
-- message at or below up_to: stepping a marker one id at a time tells the
-- friend only when it passes one of the friend's messages.
CREATE OR REPLACE FUNCTION read_messages(p_reader int8, p_friend int8, p_up_to int8, p_at int8)
RETURNS TABLE (r_up_to int8, r_seq int8)
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    v_lo   int8 := least(p_reader, p_friend);
    v_hi   int8 := greatest(p_reader, p_friend);
    v_read int8;
    v_new  int8;
    v_seq  int8;
BEGIN
    SELECT CASE WHEN p_reader = v_lo THEN f.read1 ELSE f.read2 END
    INTO v_read
    FROM friendships f
    WHERE f.uid1 = v_lo AND f.uid2 = v_hi
        AND EXISTS (SELECT FROM users u WHERE u.id = p_friend AND u.banned_at IS NULL)
    FOR UPDATE OF f;
    IF NOT FOUND THEN
        RETURN;
    END IF;
    SELECT coalesce(max(m.id), 0) INTO v_new FROM messages m
    WHERE m.lo = v_lo AND m.hi = v_hi AND m.id > v_read AND m.id <= p_up_to AND m.sender = p_friend;
    IF v_new <= v_read THEN
        RETURN QUERY SELECT v_read, 0::int8;
        RETURN;
    END IF;
    UPDATE friendships f
    SET read1 = CASE WHEN p_reader = v_lo THEN v_new ELSE f.read1 END,
        read2 = CASE WHEN p_reader = v_hi THEN v_new ELSE f.read2 END,
        unread1 = CASE WHEN p_reader = v_lo THEN u.n ELSE f.unread1 END,
        unread2 = CASE WHEN p_reader = v_hi THEN u.n ELSE f.unread2 END
    FROM (SELECT count(*)::int AS n FROM messages m
          WHERE m.lo = v_lo AND m.hi = v_hi AND m.id > v_new AND m.sender = p_friend) u
    WHERE f.uid1 = v_lo AND f.uid2 = v_hi;
    SELECT a.r_seq INTO v_seq
    FROM append_events(ARRAY[p_friend], ARRAY['read'], ARRAY[p_reader], ARRAY[''], ARRAY[p_at], ARRAY[v_new]) a;
    RETURN QUERY SELECT v_new, v_seq;
END
$$;

-- A friendship's users are no longer foreign keys: a match racing an
-- account's deletion would fail its whole swipe batch on the key (every
-- other swipe of the batch with it). Instead such a late row is swept a
-- few seconds after the deletion (SocialStore.SweepUser), and every read
-- of friendships joins users meanwhile.
ALTER TABLE friendships DROP CONSTRAINT friendships_uid1_fkey;
ALTER TABLE friendships DROP CONSTRAINT friendships_uid2_fkey;
