-- The console reads the audit trail by subject: a member's last login, a chapter's events.
CREATE INDEX audit_subject ON audit (subject, id);
