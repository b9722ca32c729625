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
