-- Authorization codes are looked up by session (a session's spent codes are pruned at every
-- new code, and a session's deletion cascades to them).
CREATE INDEX oidc_codes_session ON oidc_codes (session_hash);
