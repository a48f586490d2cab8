-- Pseudonymous services (issue 16): the service sees, instead of uid, names and mail, a
-- pseudonym per member and service (keyed by `[privacy] pseudonym_key_file`).
ALTER TABLE services ADD COLUMN pseudonymous INTEGER NOT NULL DEFAULT 0 CHECK (pseudonymous IN (0, 1));
