-- Chapter admins (issue 15): an account administers the members, groups and services of a
-- state association. Federal admins are the group `admins`.
CREATE TABLE chapter_admins (
    uid        TEXT NOT NULL REFERENCES accounts (uid) ON DELETE CASCADE,
    chapter    TEXT NOT NULL,
    real_names BIGINT NOT NULL DEFAULT 0 CHECK (real_names IN (0, 1)),
    granted_by TEXT NOT NULL,
    granted_at TEXT NOT NULL,
    PRIMARY KEY (uid, chapter)
);
