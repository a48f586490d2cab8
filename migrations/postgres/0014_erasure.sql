-- Erasure (issue 16, GDPR art. 17). `status_since` is when a member's status last changed
-- (set by `member import`, `member suspend` and `member reinstate`): members `left` for longer
-- than `[privacy] erase_after_days` are erased. Rows from before this migration count from
-- their last change (`updated_at`).
ALTER TABLE members ADD COLUMN status_since TEXT;
UPDATE members SET status_since = updated_at;

-- Tombstones of erased members: only a keyed hash (HMAC-SHA256 under `tokens.key_file`) of
-- the member number and the day of erasure, so that `member import` does not re-create an
-- erased member whom the membership administration's file still lists, without keeping the
-- number itself.
CREATE TABLE erased (
    number_hmac TEXT PRIMARY KEY,
    erased_at   TEXT NOT NULL
);

-- The certificates of erased members, revoked and kept only for the CRL (which needs the
-- serial and the revocation time), with the pseudonym as holder. They leave `certificates`
-- because a certificate there needs its request, and a request its account.
CREATE TABLE erased_certificates (
    serial        TEXT PRIMARY KEY,
    holder        TEXT NOT NULL,
    role          TEXT NOT NULL,
    not_before    TEXT NOT NULL,
    not_after     TEXT NOT NULL,
    issued_by     TEXT NOT NULL,
    issued_at     TEXT NOT NULL,
    revoked_at    TEXT NOT NULL,
    revoke_reason TEXT
);
