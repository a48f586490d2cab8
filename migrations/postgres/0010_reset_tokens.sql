-- Reset letters (issue 15): a token is either an activation token (creates the member's
-- account) or a reset token (sets a new password, and if asked switches TOTP off for a new
-- enrolment, on the member's existing account). Every existing token is an activation token.
ALTER TABLE tokens ADD COLUMN kind TEXT NOT NULL DEFAULT 'activation' CHECK (kind IN ('activation', 'reset'));
