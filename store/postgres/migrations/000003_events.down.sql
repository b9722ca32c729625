DROP FUNCTION swipe_batch(int8[], int8[], text[], int8[]);
DROP FUNCTION append_events(int8[], text[], int8[], text[], int8[]);
DROP TABLE events;
DROP TABLE event_heads;

-- 000002's swipe_batch, without events.
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
