-- Second factor and app passwords (issue 5).
ALTER TABLE accounts ADD COLUMN totp_secret TEXT;                  -- sealed (secrets.key_file); NULL = none
ALTER TABLE accounts ADD COLUMN totp_enabled INTEGER NOT NULL DEFAULT 0;
ALTER TABLE accounts ADD COLUMN totp_last_step BIGINT;            -- last accepted time step: a code works once

CREATE TABLE app_passwords (
    uid          TEXT NOT NULL REFERENCES accounts (uid) ON DELETE CASCADE,
    label        TEXT NOT NULL,
    hash         TEXT NOT NULL,
    created_at   TEXT NOT NULL,
    last_used_at TEXT,
    PRIMARY KEY (uid, label)
);
