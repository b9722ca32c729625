-- Reports (API.md, "Safety"): reporter_id reported user_id, for the
-- operators' queue. One open report per pair: reporting again while it is
-- open updates it (a retried report stores nothing new). Resolving sets
-- status, action and resolved_at.
CREATE TABLE reports (
    id          bigserial PRIMARY KEY,
    reporter_id bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    user_id     bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    reason      text NOT NULL CHECK (reason IN ('spam', 'fake', 'abuse', 'underage', 'other')),
    note        text NOT NULL DEFAULT '',
    created_at  timestamptz NOT NULL DEFAULT now(),
    status      text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'resolved')),
    action      text CHECK (action IN ('dismiss', 'ban')),
    resolved_at timestamptz,
    CHECK (reporter_id <> user_id),
    CHECK ((status = 'open') = (action IS NULL))
);
CREATE UNIQUE INDEX reports_open_pair ON reports (reporter_id, user_id) WHERE status = 'open';
CREATE INDEX reports_status ON reports (status, id);
CREATE INDEX reports_user ON reports (user_id);
