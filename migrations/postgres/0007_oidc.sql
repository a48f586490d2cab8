-- Single sign-on (OpenID Connect). A client is a service (client_id = the service's name);
-- sessions, codes and tokens are stored as SHA-256 hashes of their random values, so any node
-- completes a flow another began and a copy of the database opens no session. Times of the
-- short-lived rows are Unix seconds; booleans are 0/1.
CREATE TABLE oidc_clients (
    service       TEXT PRIMARY KEY REFERENCES services (name) ON DELETE CASCADE,
    secret_hash   TEXT,               -- SHA-256 (hex) of the generated secret; NULL: public client
    redirect_uris TEXT NOT NULL,      -- one per line, matched exactly
    logout_uri    TEXT,               -- front-channel logout URI
    pairwise      BIGINT NOT NULL DEFAULT 0 CHECK (pairwise IN (0, 1)),
    consent       BIGINT NOT NULL DEFAULT 0 CHECK (consent IN (0, 1))
);

CREATE TABLE oidc_sessions (
    id_hash    TEXT PRIMARY KEY,
    sid        TEXT NOT NULL UNIQUE,  -- the public session ID (`sid` claim, front-channel logout)
    uid        TEXT NOT NULL REFERENCES accounts (uid) ON DELETE CASCADE,
    method     TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    ended_at   BIGINT
);
CREATE INDEX oidc_sessions_uid ON oidc_sessions (uid);

-- The clients a session has signed in to (for logout everywhere).
CREATE TABLE oidc_session_clients (
    session_hash TEXT NOT NULL REFERENCES oidc_sessions (id_hash) ON DELETE CASCADE,
    client       TEXT NOT NULL,
    PRIMARY KEY (session_hash, client)
);

CREATE TABLE oidc_codes (
    code_hash    TEXT PRIMARY KEY,
    client       TEXT NOT NULL,
    session_hash TEXT NOT NULL REFERENCES oidc_sessions (id_hash) ON DELETE CASCADE,
    redirect_uri TEXT NOT NULL,
    challenge    TEXT,               -- PKCE S256 code challenge
    nonce        TEXT,
    scope        TEXT NOT NULL,
    expires_at   BIGINT NOT NULL,
    used         BIGINT NOT NULL DEFAULT 0 CHECK (used IN (0, 1))
);

-- Access and refresh tokens. A family is every token descended from one code; reusing a
-- rotated refresh token revokes its family.
CREATE TABLE oidc_tokens (
    token_hash   TEXT PRIMARY KEY,
    kind         TEXT NOT NULL CHECK (kind IN ('access', 'refresh')),
    family       TEXT NOT NULL,
    client       TEXT NOT NULL,
    session_hash TEXT NOT NULL REFERENCES oidc_sessions (id_hash) ON DELETE CASCADE,
    scope        TEXT NOT NULL,
    expires_at   BIGINT NOT NULL,
    used         BIGINT NOT NULL DEFAULT 0 CHECK (used IN (0, 1)),
    revoked      BIGINT NOT NULL DEFAULT 0 CHECK (revoked IN (0, 1))
);
CREATE INDEX oidc_tokens_family ON oidc_tokens (family);
CREATE INDEX oidc_tokens_session ON oidc_tokens (session_hash);

-- What a member agreed a client may receive (clients registered with --consent).
CREATE TABLE oidc_consents (
    uid        TEXT NOT NULL REFERENCES accounts (uid) ON DELETE CASCADE,
    client     TEXT NOT NULL REFERENCES services (name) ON DELETE CASCADE,
    claims     TEXT NOT NULL,        -- the claim names agreed to, comma-separated
    granted_at TEXT NOT NULL,
    PRIMARY KEY (uid, client)
);
