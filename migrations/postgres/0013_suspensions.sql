-- One switch (issue 16): a member suspended by `member suspend` until `member reinstate`.
-- status_before is the status to restore: the one the member had, or the one a later
-- `member import` gives (an import never lifts a suspension). The lists say what the switch
-- ended, so that reinstate can say what it cannot bring back.
CREATE TABLE suspensions (
    member_number   TEXT PRIMARY KEY REFERENCES members (number),
    reason          TEXT NOT NULL,
    suspended_by    TEXT NOT NULL,
    suspended_at    TEXT NOT NULL,
    status_before   TEXT NOT NULL CHECK (status_before IN ('active', 'suspended', 'left')),
    revoked_serials TEXT NOT NULL,
    token_revoked   INTEGER NOT NULL CHECK (token_revoked IN (0, 1)),
    sessions_ended  INTEGER NOT NULL
);
