-- Rewind quotas: how many rewinds a user made on their latest rewind day.
-- One row per user, overwritten when a new day starts, so the table stays as
-- small as the number of users who ever rewound.
CREATE TABLE rewinds (
    uid  bigint  PRIMARY KEY REFERENCES users (id),
    day  date    NOT NULL,
    used integer NOT NULL CHECK (used >= 0)
);

-- Recommendations walk the candidates of one city and sex in (birthday, id)
-- order and skip the ones the caller swiped. With id in the key that order is
-- the index's own (no sort, ties broken without touching the heap) and the
-- walk is an index-only scan: the anti-join needs only the id. Measured on
-- 1M seeded users, a caller who swiped the first 1,000 of his candidates:
-- 2.9 ms per query on (location, sex, birthday) (heap fetches and an
-- incremental sort), 1.4 ms on this one. It costs 25 MB more at 1M users (a
-- unique last column defeats B-tree deduplication) and nothing on the swipe
-- path; users are written far less often than they are recommended.
DROP INDEX users_candidates;
CREATE INDEX users_candidates ON users (location, sex, birthday, id);

-- Who superliked a user, newest first: the head of their recommendations.
-- Partial, so only superlikes (a few percent of swipes, VIPs only) pay for it
-- on the swipe path. Without it the query walks swipes_sid through every
-- like and dislike the user received, fetching each row to read its mark, so
-- its cost grows with popularity: for a user with 100k likes received, 3k of
-- them superlikes, 4.8 ms, against 2.0 ms with this index (on a heap where
-- those likes sat together; scattered, as in real life, the gap widens).
-- uid is in the key so the order is complete and the scan stops at the
-- limit.
CREATE INDEX swipes_superliked ON swipes (sid, created_at DESC, uid DESC) WHERE mark = 'superlike';

-- No index for "the last swipe of a user" (LastSwipe, before a rewind): the
-- primary key's uid prefix finds a user's ~1,000 swipes and a top-1 sort
-- picks the newest, 0.44 ms a call; an index on (uid, created_at DESC, sid
-- DESC) made it 0.19 ms (a round trip alone is 0.11 ms), but it made every
-- swipe insert 12 % slower (9.1 to 10.4 us a row in batches of 250), and
-- swipes far outnumber rewinds (a few a day, for VIPs only).

-- swipe_batch stores a batch of swipes and makes the friendships they
-- complete, atomically, in one round trip (SocialStore's group commit calls
-- it once per batch). It returns the swipes it inserted; the others exist
-- already or name no user.
--
-- Matching is race-free because the likes of one pair are serialised: each
-- like first takes a transaction-level advisory lock on its pair (keys in
-- ascending order, so two batches cannot deadlock), and the check for the
-- other side's like is a statement of its own, which in a VOLATILE PL/pgSQL
-- function under READ COMMITTED takes a fresh snapshot. Of two likes racing
-- each other, the one that gets the lock second sees the first committed, so
-- at least one reports the match and the friendship's primary key keeps it
-- single. Being one transaction, a swipe never commits without the
-- friendship it completes: a crash between the two cannot lose a match.
-- Locks are per batch: at most one per distinct liked pair, released at
-- commit (max_locks_per_transaction × max_connections bounds them; 2 batches
-- of 1,000 use 2,000 of the default 6,400).
CREATE FUNCTION swipe_batch(p_uid int8[], p_sid int8[], p_mark text[], p_at int8[])
RETURNS TABLE (r_uid int8, r_sid int8, r_matched boolean)
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    i_uid int8[];
    i_sid int8[];
    i_at  int8[];
BEGIN
    PERFORM pg_advisory_xact_lock(k) FROM (
        SELECT DISTINCT hashtextextended(least(b.u, b.s) || ',' || greatest(b.u, b.s), 7311) AS k
        FROM unnest(p_uid, p_sid, p_mark) AS b (u, s, m)
        WHERE b.m <> 'dislike'
        ORDER BY k) x;

    -- The users check is a LATERAL with OFFSET 0 so that it stays a primary
    -- key probe per row: as a join, the planner hashed the whole users table
    -- for a batch of 1,000 on a 20k-user database. WITH ORDINALITY keeps the
    -- caller's (uid, sid) order, which keeps concurrent batches from
    -- deadlocking on each other's rows.
    WITH ins AS (
        INSERT INTO swipes (uid, sid, mark, created_at)
        SELECT b.uid, b.sid, b.mark, timestamptz 'epoch' + b.at * interval '1 microsecond'
        FROM unnest(p_uid, p_sid, p_mark, p_at) WITH ORDINALITY AS b (uid, sid, mark, at, n)
        CROSS JOIN LATERAL (SELECT FROM users u WHERE u.id = b.sid OFFSET 0) u
        ORDER BY b.n
        ON CONFLICT (uid, sid) DO NOTHING
        RETURNING swipes.uid, swipes.sid, swipes.mark, swipes.created_at)
    SELECT array_agg(ins.uid), array_agg(ins.sid),
           array_agg(CASE WHEN ins.mark <> 'dislike'
                          THEN (extract(epoch FROM ins.created_at) * 1000000)::int8 END)
    INTO i_uid, i_sid, i_at
    FROM ins;

    -- The other side's like is probed by primary key, row by row (LATERAL,
    -- OFFSET 0): as a join, with statistics that lagged a fast-growing
    -- table, the planner hashed all of swipes. The friendship dates from the
    -- later of the two swipes.
    RETURN QUERY
    WITH m AS (
        SELECT b.uid, b.sid, greatest(s.created_at, timestamptz 'epoch' + b.at * interval '1 microsecond') AS at
        FROM unnest(i_uid, i_sid, i_at) AS b (uid, sid, at)
        CROSS JOIN LATERAL (
            SELECT s.created_at FROM swipes s
            WHERE s.uid = b.sid AND s.sid = b.uid AND s.mark IN ('like', 'superlike')
            OFFSET 0) s
        WHERE b.at IS NOT NULL
    ), f AS (
        INSERT INTO friendships (uid1, uid2, created_at)
        SELECT least(m.uid, m.sid), greatest(m.uid, m.sid), max(m.at) FROM m
        GROUP BY 1, 2 ORDER BY 1, 2
        ON CONFLICT DO NOTHING
    )
    SELECT b.uid, b.sid, EXISTS (SELECT FROM m WHERE m.uid = b.uid AND m.sid = b.sid)
    FROM unnest(i_uid, i_sid) AS b (uid, sid);
END
$$;
