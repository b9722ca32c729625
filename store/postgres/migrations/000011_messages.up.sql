-- Conversations between friends (API.md, "Conversations").
--
-- A conversation lives as long as its friendship: the friendship row holds
-- its state (the last message, each side's read marker and unread count,
-- the time of its latest activity for the friends list's order), and its
-- messages go when the friendship does (unmatch, a rewind that unmatches,
-- a block, an account's deletion; see the trigger below). A pair that
-- becomes friends again starts a new, empty conversation.
--
-- Every write to a conversation (a message, a read marker) first locks the
-- friendship's row: that orders them (ids rise within a conversation in
-- commit order, and both users' streams hear them in that order), and an
-- unmatch or a block, which deletes the row, waits for a write in progress
-- or makes the next one find no friendship.
ALTER TABLE friendships
    ADD COLUMN last_message bigint,
    ADD COLUMN active_at    timestamptz,
    ADD COLUMN read1        bigint  NOT NULL DEFAULT 0, -- uid1 has read uid2's messages up to this id
    ADD COLUMN read2        bigint  NOT NULL DEFAULT 0,
    ADD COLUMN unread1      integer NOT NULL DEFAULT 0, -- uid2's messages uid1 has not read
    ADD COLUMN unread2      integer NOT NULL DEFAULT 0;

-- lo and hi are the pair (lo < hi), as friendships' uid1 and uid2. Text is
-- stored as the sender gave it: clients escape it when they show it.
CREATE TABLE messages (
    id        bigserial   PRIMARY KEY,
    lo        bigint      NOT NULL,
    hi        bigint      NOT NULL,
    sender    bigint      NOT NULL,
    text      text        NOT NULL,
    client_id text,
    sent_at   timestamptz NOT NULL,
    CHECK (lo < hi),
    CHECK (sender IN (lo, hi))
);

-- History pages walk a conversation newest first by id; a read marker
-- counts the unread after it on the same index.
CREATE INDEX messages_pair ON messages (lo, hi, id);

-- A sender's client_id names one message per conversation: a retry finds
-- the first, and two racing retries cannot both insert.
CREATE UNIQUE INDEX messages_client ON messages (lo, hi, sender, client_id) WHERE client_id IS NOT NULL;

-- The events of messages and read markers name what they are about by id
-- (ref): the message of a "message" event, the marker of a "read" one.
ALTER TABLE events ADD COLUMN ref bigint NOT NULL DEFAULT 0;

-- append_events as in 000003, with each event's ref.
CREATE FUNCTION append_events(p_uid int8[], p_type text[], p_subject int8[], p_detail text[], p_at int8[], p_ref int8[])
RETURNS TABLE (r_n int8, r_uid int8, r_seq int8)
LANGUAGE sql VOLATILE AS $$
    WITH e AS (
        SELECT x.n, x.uid, x.type, x.subject, x.detail, x.at, x.ref,
               row_number() OVER (PARTITION BY x.uid ORDER BY x.n) AS k,
               count(*) OVER (PARTITION BY x.uid) AS c
        FROM unnest(p_uid, p_type, p_subject, p_detail, p_at, p_ref) WITH ORDINALITY AS x (uid, type, subject, detail, at, ref, n)
    ), h AS (
        INSERT INTO event_heads AS h (uid, seq)
        SELECT DISTINCT e.uid, e.c FROM e ORDER BY e.uid
        ON CONFLICT (uid) DO UPDATE SET seq = h.seq + EXCLUDED.seq
        RETURNING h.uid, h.seq
    ), ins AS (
        INSERT INTO events (uid, seq, type, subject, detail, at, ref)
        SELECT e.uid, h.seq - e.c + e.k, e.type, e.subject, e.detail,
               timestamptz 'epoch' + e.at * interval '1 microsecond', e.ref
        FROM e JOIN h ON h.uid = e.uid
    )
    SELECT e.n, e.uid, h.seq - e.c + e.k FROM e JOIN h ON h.uid = e.uid
    ORDER BY e.n
$$;

-- A conversation ends with its friendship, whoever deletes the row.
CREATE FUNCTION friendship_ended() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM messages WHERE lo = OLD.uid1 AND hi = OLD.uid2;
    RETURN NULL;
END
$$;
CREATE TRIGGER friendship_ended AFTER DELETE ON friendships
    FOR EACH ROW WHEN (OLD.last_message IS NOT NULL) EXECUTE FUNCTION friendship_ended();

-- send_message stores a message from p_from to p_to, if they are friends
-- (and p_to is not banned), with its events in both streams, and returns
-- it with r_created and the two seqs; a client_id already used in this
-- conversation by this sender returns the first message, r_created false,
-- seqs 0. Not friends: no row.
CREATE FUNCTION send_message(p_from int8, p_to int8, p_text text, p_client text, p_at int8)
RETURNS TABLE (r_id int8, r_text text, r_client text, r_at int8, r_created boolean, r_seq int8, r_their_seq int8)
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    v_lo   int8 := least(p_from, p_to);
    v_hi   int8 := greatest(p_from, p_to);
    v_id   int8;
    v_seqs int8[];
BEGIN
    PERFORM FROM friendships f
    WHERE f.uid1 = v_lo AND f.uid2 = v_hi
        AND EXISTS (SELECT FROM users u WHERE u.id = p_to AND u.banned_at IS NULL)
    FOR UPDATE OF f;
    IF NOT FOUND THEN
        RETURN;
    END IF;
    -- A statement after the lock: it sees a retry that committed while
    -- this one waited.
    IF p_client IS NOT NULL THEN
        RETURN QUERY
        SELECT m.id, m.text, m.client_id, (extract(epoch FROM m.sent_at) * 1000000)::int8, false, 0::int8, 0::int8
        FROM messages m
        WHERE m.lo = v_lo AND m.hi = v_hi AND m.sender = p_from AND m.client_id = p_client;
        IF FOUND THEN
            RETURN;
        END IF;
    END IF;
    INSERT INTO messages (lo, hi, sender, text, client_id, sent_at)
    VALUES (v_lo, v_hi, p_from, p_text, p_client, timestamptz 'epoch' + p_at * interval '1 microsecond')
    RETURNING id INTO v_id;
    UPDATE friendships
    -- Activity never predates the match (a clock behind another node's).
    SET last_message = v_id, active_at = greatest(timestamptz 'epoch' + p_at * interval '1 microsecond', created_at),
        unread1 = unread1 + (p_to = v_lo)::int, unread2 = unread2 + (p_to = v_hi)::int
    WHERE uid1 = v_lo AND uid2 = v_hi;
    SELECT array_agg(a.r_seq ORDER BY a.r_n) INTO v_seqs
    FROM append_events(ARRAY[p_from, p_to], ARRAY['message', 'message'], ARRAY[p_to, p_from],
                       ARRAY['', ''], ARRAY[p_at, p_at], ARRAY[v_id, v_id]) a;
    RETURN QUERY SELECT v_id, p_text, p_client, p_at, true, v_seqs[1], v_seqs[2];
END
$$;

-- read_messages marks p_friend's messages to p_reader read up to p_up_to
-- (at most the conversation's last message) and tells p_friend's stream
-- ("read"). It returns the marker and the event's seq, 0 when the marker
-- did not move (nothing is told). Not friends (or p_friend banned): no row.
CREATE FUNCTION read_messages(p_reader int8, p_friend int8, p_up_to int8, p_at int8)
RETURNS TABLE (r_up_to int8, r_seq int8)
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    v_lo   int8 := least(p_reader, p_friend);
    v_hi   int8 := greatest(p_reader, p_friend);
    v_last int8;
    v_read int8;
    v_new  int8;
    v_seq  int8;
BEGIN
    SELECT coalesce(f.last_message, 0), CASE WHEN p_reader = v_lo THEN f.read1 ELSE f.read2 END
    INTO v_last, v_read
    FROM friendships f
    WHERE f.uid1 = v_lo AND f.uid2 = v_hi
        AND EXISTS (SELECT FROM users u WHERE u.id = p_friend AND u.banned_at IS NULL)
    FOR UPDATE OF f;
    IF NOT FOUND THEN
        RETURN;
    END IF;
    v_new := least(p_up_to, v_last);
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
