-- Users and their profiles share one row: a profile is one-to-one with its
-- user, every read of one wants the other (recommendations filter candidates
-- by the user columns and the caller by the profile columns), and one row per
-- user halves the work of a bulk load.
CREATE TABLE users (
    id              bigserial   PRIMARY KEY,
    phone           text        NOT NULL UNIQUE,
    nickname        text        NOT NULL,
    sex             text        CHECK (sex IN ('male', 'female')),
    birthday        date,
    location        text        NOT NULL DEFAULT '',
    avatar_url      text,
    vip_level       smallint    NOT NULL DEFAULT 0 CHECK (vip_level BETWEEN 0 AND 3),
    dating_sex      text        NOT NULL DEFAULT 'any' CHECK (dating_sex IN ('male', 'female', 'any')),
    dating_location text        NOT NULL DEFAULT '',
    min_dating_age  smallint    NOT NULL DEFAULT 18 CHECK (min_dating_age BETWEEN 18 AND 100),
    max_dating_age  smallint    NOT NULL DEFAULT 50 CHECK (max_dating_age BETWEEN 18 AND 100),
    vibration       boolean     NOT NULL DEFAULT true,
    only_matched    boolean     NOT NULL DEFAULT true,
    auto_play       boolean     NOT NULL DEFAULT true,
    created_at      timestamptz NOT NULL DEFAULT now(),
    CHECK (min_dating_age <= max_dating_age)
);

-- Candidates for recommendations: people in a city, of a sex, born between
-- two dates.
CREATE INDEX users_candidates ON users (location, sex, birthday);

-- One row per (swiper, swiped) pair. No foreign keys: swipes are written at
-- tens of thousands per second, users are never deleted, and the user actor
-- checks that the swiped user exists before it writes.
CREATE TABLE swipes (
    uid        bigint      NOT NULL,
    sid        bigint      NOT NULL,
    mark       text        NOT NULL CHECK (mark IN ('like', 'superlike', 'dislike')),
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (uid, sid),
    CHECK (uid <> sid)
);

-- Who swiped a user: liked-me and the superliked-first recommendations.
CREATE INDEX swipes_sid ON swipes (sid, created_at DESC);

-- One row per friendship, the smaller id first.
CREATE TABLE friendships (
    uid1       bigint      NOT NULL REFERENCES users (id),
    uid2       bigint      NOT NULL REFERENCES users (id),
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (uid1, uid2),
    CHECK (uid1 < uid2)
);

CREATE INDEX friendships_uid2 ON friendships (uid2, uid1);

-- Run-time settings that operators changed; a setting with no row has its
-- default, which lives in the code (swiper.DefaultSettings).
CREATE TABLE settings (
    name       text        PRIMARY KEY,
    value      integer     NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now()
);
