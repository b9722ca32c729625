-- Avatar upload jobs (API.md, Job). The processed image travels in the
-- job's row: the job and its bytes commit together before the upload is
-- acknowledged, so any node can finish it after the one that took it dies.
-- The bytes are dropped once the object store has them; a failed job keeps
-- them so that an operator's retry can still upload.
--
-- next_attempt_at is when the job is due: after its backoff while pending,
-- at the end of its lease while uploading (a node that dies holding a job
-- lets it come back then). attempts counts the attempts begun and fences a
-- claim: an attempt records its outcome only if no later claim took over.
CREATE TABLE uploads (
    id              bigserial   PRIMARY KEY,
    uid             bigint      NOT NULL REFERENCES users (id),
    status          text        NOT NULL DEFAULT 'pending'
                                CHECK (status IN ('pending', 'uploading', 'done', 'failed')),
    attempts        integer     NOT NULL DEFAULT 0,
    key             text        NOT NULL,
    url             text,
    last_error      text,
    data            bytea,
    next_attempt_at timestamptz NOT NULL,
    created_at      timestamptz NOT NULL,
    updated_at      timestamptz NOT NULL,
    CHECK (status = 'done' OR data IS NOT NULL)
);

-- What the upload managers claim: jobs not yet finished, by due time.
CREATE INDEX uploads_due ON uploads (next_attempt_at) WHERE status IN ('pending', 'uploading');

-- The admin list by state, newest first, and a user's newest done upload
-- (which decides the avatar when two finish out of order).
CREATE INDEX uploads_status ON uploads (status, id DESC);
CREATE INDEX uploads_uid_done ON uploads (uid, id DESC) WHERE status = 'done';
