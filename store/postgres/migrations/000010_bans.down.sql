-- Undoes 000010: swipe_batch as in 000008, the candidate index whole, no bans.
CREATE OR REPLACE FUNCTION swipe_batch(p_uid int8[], p_sid int8[], p_mark text[], p_at int8[])
RETURNS TABLE (r_uid int8, r_sid int8, r_matched boolean, r_seq int8, r_their_seq int8)
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
    e_n    int8[];
    e_kind int8[];
    e_seq  int8[];
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
        CROSS JOIN LATERAL (
            SELECT FROM users u
            WHERE u.id = b.sid
                AND NOT EXISTS (SELECT FROM blocks k WHERE k.uid = b.uid AND k.blocked = b.sid)
                AND NOT EXISTS (SELECT FROM blocks k WHERE k.uid = b.sid AND k.blocked = b.uid)
            OFFSET 0) u
        ORDER BY b.n
        ON CONFLICT (uid, sid) DO NOTHING
        RETURNING swipes.uid, swipes.sid, swipes.mark, swipes.created_at)
    SELECT array_agg(ins.uid), array_agg(ins.sid),
           array_agg(CASE WHEN ins.mark <> 'dislike'
                          THEN (extract(epoch FROM ins.created_at) * 1000000)::int8 END),
           array_agg(ins.mark)
    INTO i_uid, i_sid, i_at, i_mark
    FROM ins;

    -- See 000002 for the per-row probe of the other side's like. A like
    -- whose other side is also among this batch's likes (b2) makes the match
    -- only if it is the later of the two, so one swipe per pair does.
    WITH m AS (
        SELECT b.uid, b.sid, b.n, b.at AS mine, greatest(s.created_at, timestamptz 'epoch' + b.at * interval '1 microsecond') AS at
        FROM unnest(i_uid, i_sid, i_at) WITH ORDINALITY AS b (uid, sid, at, n)
        CROSS JOIN LATERAL (
            SELECT s.created_at FROM swipes s
            WHERE s.uid = b.sid AND s.sid = b.uid AND s.mark IN ('like', 'superlike')
            OFFSET 0) s
        WHERE b.at IS NOT NULL
            AND NOT EXISTS (
                SELECT FROM unnest(i_uid, i_sid, i_at) AS b2 (uid, sid, at)
                WHERE b2.uid = b.sid AND b2.sid = b.uid AND b2.at IS NOT NULL
                    AND (b2.at, b2.uid) > (b.at, b.uid))
    ), f AS (
        INSERT INTO friendships (uid1, uid2, created_at, made_by)
        SELECT least(m.uid, m.sid), greatest(m.uid, m.sid), m.at, m.uid FROM m
        ORDER BY 1, 2
        ON CONFLICT DO NOTHING
        RETURNING uid1, uid2
    )
    SELECT array_agg(m.uid), array_agg(m.sid), array_agg(m.mine), array_agg(m.n)
    INTO m_uid, m_sid, m_at, m_n
    FROM m JOIN f ON f.uid1 = least(m.uid, m.sid) AND f.uid2 = greatest(m.uid, m.sid);

    -- Events as in 000005: kind 0 is the target's "superliked", 1 the
    -- swiper's "match", 2 the target's "match"; n is the swipe's place
    -- among the inserted rows.
    WITH ev AS (
        SELECT e.*, row_number() OVER (ORDER BY e.n * 3 + e.kind) AS k FROM (
            SELECT b.sid AS uid, 'superliked' AS type, b.uid AS subject, b.at, b.n, 0::int8 AS kind
            FROM unnest(i_uid, i_sid, i_at, i_mark) WITH ORDINALITY AS b (uid, sid, at, mark, n)
            WHERE b.mark = 'superlike'
            UNION ALL
            SELECT b.uid, 'match', b.sid, b.at, b.n, 1
            FROM unnest(m_uid, m_sid, m_at, m_n) AS b (uid, sid, at, n)
            UNION ALL
            SELECT b.sid, 'match', b.uid, b.at, b.n, 2
            FROM unnest(m_uid, m_sid, m_at, m_n) AS b (uid, sid, at, n)
        ) e
    ), r AS (
        SELECT a.r_n, a.r_seq
        FROM (SELECT array_agg(ev.uid ORDER BY ev.k) AS u, array_agg(ev.type ORDER BY ev.k) AS t,
                     array_agg(ev.subject ORDER BY ev.k) AS s, array_agg(''::text ORDER BY ev.k) AS d,
                     array_agg(ev.at ORDER BY ev.k) AS a
              FROM ev HAVING count(*) > 0) x
        CROSS JOIN LATERAL append_events(x.u, x.t, x.s, x.d, x.a) a
    )
    SELECT array_agg(ev.n), array_agg(ev.kind), array_agg(r.r_seq)
    INTO e_n, e_kind, e_seq
    FROM ev JOIN r ON r.r_n = ev.k;

    RETURN QUERY
    SELECT b.uid, b.sid, mine.seq IS NOT NULL, coalesce(mine.seq, 0), coalesce(theirs.seq, 0)
    FROM unnest(i_uid, i_sid) WITH ORDINALITY AS b (uid, sid, n)
    LEFT JOIN (SELECT x.n, x.seq FROM unnest(e_n, e_kind, e_seq) AS x (n, kind, seq) WHERE x.kind = 1) mine ON mine.n = b.n
    LEFT JOIN (SELECT x.n, max(x.seq) AS seq FROM unnest(e_n, e_kind, e_seq) AS x (n, kind, seq) WHERE x.kind <> 1 GROUP BY x.n) theirs ON theirs.n = b.n;
END
$$;

DROP INDEX users_candidates;
CREATE INDEX users_candidates ON users (location, sex, birthday, id);
ALTER TABLE users DROP COLUMN banned_at;
