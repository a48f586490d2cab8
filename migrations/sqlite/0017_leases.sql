-- Leases (issue 19): a named job that exactly one node runs at a time (e.g. re-signing the CRL).
-- holder: the node holding it; expires_at: when another node may take it over. Run-time state:
-- not backed up.
CREATE TABLE leases (
    name       TEXT PRIMARY KEY,
    holder     TEXT NOT NULL,
    expires_at TEXT NOT NULL
);
