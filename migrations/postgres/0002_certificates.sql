-- Client certificates (issue 4): the four-eyes requests, the certificates issued, the current
-- CRL, and an append-only audit trail (extended by later issues).
CREATE TABLE cert_requests (
    id           BIGSERIAL PRIMARY KEY,
    uid          TEXT NOT NULL REFERENCES accounts (uid) ON DELETE CASCADE,
    role         TEXT NOT NULL,
    csr_pem      TEXT,
    requested_by TEXT NOT NULL,
    requested_at TEXT NOT NULL,
    approved_by  TEXT,
    approved_at  TEXT,
    issued_serial TEXT,
    issued_at    TEXT
);

CREATE TABLE certificates (
    serial         TEXT PRIMARY KEY,            -- lower-case hex, 128 bits
    request_id     BIGINT NOT NULL REFERENCES cert_requests (id),
    uid            TEXT NOT NULL,
    role           TEXT NOT NULL,
    fingerprint    TEXT NOT NULL UNIQUE,        -- SHA-256 of the DER, lower-case hex
    not_before     TEXT NOT NULL,
    not_after      TEXT NOT NULL,
    issued_by      TEXT NOT NULL,
    issued_at      TEXT NOT NULL,
    revoked_at     TEXT,
    revoke_reason  TEXT
);

CREATE TABLE crls (
    number     BIGINT PRIMARY KEY,
    pem        TEXT NOT NULL,
    this_update TEXT NOT NULL,
    next_update TEXT NOT NULL
);

CREATE TABLE audit (
    id      BIGSERIAL PRIMARY KEY,
    at      TEXT NOT NULL,
    actor   TEXT NOT NULL,
    action  TEXT NOT NULL,
    subject TEXT NOT NULL,
    detail  TEXT NOT NULL DEFAULT ''
);
CREATE INDEX audit_at ON audit (at);
