-- piratenldap initial schema (SQLite). Timestamps are RFC 3339 text in UTC.
CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value INTEGER NOT NULL
);
-- revision: bumped by every write transaction; servers poll it to refresh their view.
INSERT INTO meta (key, value) VALUES ('revision', 1), ('next_uid_number', 20000), ('next_gid_number', 10100);

CREATE TABLE members (
    number       TEXT PRIMARY KEY,
    state        TEXT NOT NULL,
    status       TEXT NOT NULL CHECK (status IN ('active', 'suspended', 'left')),
    voting_right INTEGER NOT NULL CHECK (voting_right IN (0, 1)),
    given_name   TEXT,
    surname      TEXT,
    email        TEXT,
    joined       TEXT,
    created_at   TEXT NOT NULL,
    updated_at   TEXT NOT NULL
);

CREATE TABLE accounts (
    uid           TEXT PRIMARY KEY,
    member_number TEXT NOT NULL UNIQUE REFERENCES members (number),
    display_name  TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    locked        INTEGER NOT NULL DEFAULT 0 CHECK (locked IN (0, 1)),
    uid_number    INTEGER NOT NULL UNIQUE,
    entry_uuid    TEXT NOT NULL UNIQUE,
    created_at    TEXT NOT NULL,
    modified_at   TEXT NOT NULL
);

CREATE TABLE groups (
    name        TEXT PRIMARY KEY,
    kind        TEXT NOT NULL CHECK (kind IN ('auto', 'manual')),
    gid_number  INTEGER NOT NULL UNIQUE,
    description TEXT,
    entry_uuid  TEXT NOT NULL UNIQUE,
    created_at  TEXT NOT NULL,
    modified_at TEXT NOT NULL
);

CREATE TABLE group_members (
    group_name TEXT NOT NULL REFERENCES groups (name) ON DELETE CASCADE,
    uid        TEXT NOT NULL REFERENCES accounts (uid) ON DELETE CASCADE,
    PRIMARY KEY (group_name, uid)
);

CREATE TABLE services (
    name             TEXT PRIMARY KEY,
    password_hash    TEXT NOT NULL,
    attrs            TEXT,            -- comma-separated attribute list; NULL = the default profile
    members_of       TEXT,            -- group the service is narrowed to
    real_names       INTEGER NOT NULL DEFAULT 0 CHECK (real_names IN (0, 1)),
    include_inactive INTEGER NOT NULL DEFAULT 0 CHECK (include_inactive IN (0, 1)),
    entry_uuid       TEXT NOT NULL UNIQUE,
    created_at       TEXT NOT NULL,
    modified_at      TEXT NOT NULL
);

INSERT INTO groups (name, kind, gid_number, description, entry_uuid, created_at, modified_at) VALUES
    ('members', 'auto', 10001, 'All active members', '6d656d62-6572-4000-8000-000000000001', '2026-01-01T00:00:00Z', '2026-01-01T00:00:00Z'),
    ('voting', 'auto', 10002, 'Members with voting right', '6d656d62-6572-4000-8000-000000000002', '2026-01-01T00:00:00Z', '2026-01-01T00:00:00Z'),
    ('admins', 'manual', 10010, 'Directory administrators', '6d656d62-6572-4000-8000-000000000010', '2026-01-01T00:00:00Z', '2026-01-01T00:00:00Z'),
    ('membership-admins', 'manual', 10011, 'Membership administration', '6d656d62-6572-4000-8000-000000000011', '2026-01-01T00:00:00Z', '2026-01-01T00:00:00Z');
