-- swipe_batch as in 000003 (this undoes 000005): it appends the events the batch causes in
-- the same transaction: a superlike tells its target ("superliked") and a
-- match tells both sides ("match"). A crash cannot keep a match and lose
-- its events, or the other way round.
DROP FUNCTION swipe_batch(int8[], int8[], text[], int8[]);
CREATE FUNCTION swipe_batch(p_uid int8[], p_sid int8[], p_mark text[], p_at int8[])
RETURNS TABLE (r_uid int8, r_sid int8, r_matched boolean)
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    i_uid  int8[];
    i_sid  int8[];
    i_at   int8[];
    i_mark text[];
    m_uid  int8[];
    m_sid  int8[];
    m_at   int8[];
    m_n    int8[];
BEGIN
    PERFORM pg_advisory_xact_lock(k) FROM (
        SELECT DISTINCT hashtextextended(least(b.u, b.s) || ',' || greatest(b.u, b.s), 7311) AS k
        FROM unnest(p_uid, p_sid, p_mark) AS b (u, s, m)
        WHERE b.m <> 'dislike'
        ORDER BY k) x;

    -- See 000002 for why the users probe is a LATERAL with OFFSET 0 and
    -- why rows keep the caller's order.
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
                          THEN (extract(epoch FROM ins.created_at) * 1000000)::int8 END),
           array_agg(ins.mark)
    INTO i_uid, i_sid, i_at, i_mark
    FROM ins;

    -- See 000002 for the per-row probe of the other side's like.
    WITH m AS (
        SELECT b.uid, b.sid, b.n, b.at AS mine, greatest(s.created_at, timestamptz 'epoch' + b.at * interval '1 microsecond') AS at
        FROM unnest(i_uid, i_sid, i_at) WITH ORDINALITY AS b (uid, sid, at, n)
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
    SELECT array_agg(m.uid), array_agg(m.sid), array_agg(m.mine), array_agg(m.n)
    INTO m_uid, m_sid, m_at, m_n
    FROM m;

    -- Events: each superlike's, then each match's two, in batch order.
    PERFORM append_events(array_agg(e.uid ORDER BY e.o), array_agg(e.type ORDER BY e.o),
                          array_agg(e.subject ORDER BY e.o), array_agg(''::text ORDER BY e.o), array_agg(e.at ORDER BY e.o))
    FROM (
        SELECT b.sid AS uid, 'superliked' AS type, b.uid AS subject, b.at, b.n * 3 AS o
        FROM unnest(i_uid, i_sid, i_at, i_mark) WITH ORDINALITY AS b (uid, sid, at, mark, n)
        WHERE b.mark = 'superlike'
        UNION ALL
        SELECT b.uid, 'match', b.sid, b.at, b.n * 3 + 1
        FROM unnest(m_uid, m_sid, m_at, m_n) AS b (uid, sid, at, n)
        UNION ALL
        SELECT b.sid, 'match', b.uid, b.at, b.n * 3 + 2
        FROM unnest(m_uid, m_sid, m_at, m_n) AS b (uid, sid, at, n)
    ) e
    HAVING count(*) > 0;

    RETURN QUERY
    SELECT b.uid, b.sid, EXISTS (SELECT FROM unnest(m_uid, m_sid) AS m (uid, sid) WHERE m.uid = b.uid AND m.sid = b.sid)
    FROM unnest(i_uid, i_sid) AS b (uid, sid);
END
$$;
