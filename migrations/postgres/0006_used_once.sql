-- One-time values (the portal's TOTP tickets): each is accepted once while it lives; a row is
-- kept until its expiry (Unix seconds) so that a replay within the lifetime is refused.
CREATE TABLE used_once (
    nonce      TEXT PRIMARY KEY,
    expires_at BIGINT NOT NULL
);
