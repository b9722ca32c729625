-- The daily superlike quota, enforced where the swipes are stored, so that
-- two actors of one user (a membership change can run two for a moment)
-- cannot each grant the whole quota.
--
-- What a user used today is counted from the superlikes stored since the
-- local day began, not kept in a counter: a rewound superlike is deleted,
-- and so given back, with nothing more to update; and a swipe_batch retry
-- that finds its swipe stored cannot count it twice. The count walks this
-- index: a user's superlikes, by time. It is partial, like
-- swipes_superliked, so only superlikes (VIPs only, a few percent of
-- swipes) pay for it on the swipe path.
CREATE INDEX swipes_superlikes_by_uid ON swipes (uid, created_at) WHERE mark = 'superlike';

-- swipe_batch_quota is swipe_batch for a batch with superlikes under a
-- quota: p_limit is how many superlikes the row's swiper may make since
-- p_since (Unix microseconds, the start of the swiper's local day), 0 for no
-- limit. A superlike over its quota is not stored and comes back with
-- r_refused; the rest of the batch goes to swipe_batch, whose rows come
-- back as it returns them. The group commit calls this only for batches
-- that hold a limited superlike, so the others pay nothing.
--
-- Exactness: each swiper with a limited superlike in the batch is locked
-- (a transaction-level advisory lock, keys in ascending order) before the
-- count, so two batches superliking for one user count one after the other,
-- and the later one sees the earlier one's superlikes (each statement of a
-- VOLATILE function takes a fresh snapshot under READ COMMITTED). The locks
-- are taken before swipe_batch's pair locks, in every batch: no deadlock.
-- A superlike whose pair is stored already is not counted: it will not be
-- stored, and swipe_batch says what it says of a second swipe.
CREATE FUNCTION swipe_batch_quota(p_uid int8[], p_sid int8[], p_mark text[], p_at int8[], p_limit int4[], p_since int8[])
RETURNS TABLE (r_uid int8, r_sid int8, r_matched boolean, r_seq int8, r_their_seq int8, r_refused boolean)
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    refused boolean[];
    k_uid   int8[];
    k_sid   int8[];
    k_mark  text[];
    k_at    int8[];
BEGIN
    PERFORM pg_advisory_xact_lock(k) FROM (
        SELECT DISTINCT hashtextextended('superlikes,' || b.u, 7311) AS k
        FROM unnest(p_uid, p_mark, p_limit) AS b (u, m, l)
        WHERE b.m = 'superlike' AND b.l > 0
        ORDER BY k) x;

    -- A limited superlike is refused when the superlikes its swiper stored
    -- since p_since, and those before it in this batch, reach p_limit.
    WITH b AS (
        SELECT b.*, b.m = 'superlike' AND b.l > 0
                    AND NOT EXISTS (SELECT FROM swipes s WHERE s.uid = b.u AND s.sid = b.s OFFSET 0) AS counted
        FROM unnest(p_uid, p_sid, p_mark, p_limit, p_since) WITH ORDINALITY AS b (u, s, m, l, since, n)
    ), c AS (
        SELECT b.n, b.counted AND
               (CASE WHEN b.counted THEN
                    (SELECT count(*) FROM swipes s
                     WHERE s.uid = b.u AND s.mark = 'superlike'
                       AND s.created_at >= timestamptz 'epoch' + b.since * interval '1 microsecond')
                END) + row_number() OVER (PARTITION BY b.u, b.counted ORDER BY b.n) > b.l AS refused
        FROM b
    )
    SELECT array_agg(c.refused ORDER BY c.n) INTO refused FROM c;

    RETURN QUERY
    SELECT b.u, b.s, false, 0::int8, 0::int8, true
    FROM unnest(p_uid, p_sid, refused) AS b (u, s, no)
    WHERE b.no;

    SELECT array_agg(b.u ORDER BY b.n), array_agg(b.s ORDER BY b.n), array_agg(b.m ORDER BY b.n), array_agg(b.a ORDER BY b.n)
    INTO k_uid, k_sid, k_mark, k_at
    FROM unnest(p_uid, p_sid, p_mark, p_at, refused) WITH ORDINALITY AS b (u, s, m, a, no, n)
    WHERE NOT b.no;
    IF k_uid IS NOT NULL THEN
        RETURN QUERY SELECT r.*, false FROM swipe_batch(k_uid, k_sid, k_mark, k_at) r;
    END IF;
END
$$;
