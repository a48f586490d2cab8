-- Activation tokens (issue 3): only an HMAC of each token is stored.
CREATE TABLE tokens (
    hmac          TEXT PRIMARY KEY,
    member_number TEXT NOT NULL REFERENCES members (number),
    state         TEXT NOT NULL CHECK (state IN ('live', 'used', 'revoked')),
    issued_at     TEXT NOT NULL,
    expires_at    TEXT NOT NULL,
    used_at       TEXT
);
-- One live token per member.
CREATE UNIQUE INDEX tokens_one_live ON tokens (member_number) WHERE state = 'live';
