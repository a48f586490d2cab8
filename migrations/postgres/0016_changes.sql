-- The change log (issue 17): what each write changed, at the revision it moved to, so a node
-- applies only that to its view. kind: member, account, group, service, certificate or
-- everything (key empty). Not backed up; pruned daily to the last 100 000 revisions.
CREATE TABLE changes (
    revision BIGINT NOT NULL,
    kind     TEXT NOT NULL,
    key      TEXT NOT NULL
);
CREATE INDEX changes_revision ON changes (revision);
-- changes_from: the log holds every change after this revision (moved on by pruning and by a
-- restore); a reader at an older revision reads a whole snapshot.
INSERT INTO meta (key, value) SELECT 'changes_from', value FROM meta WHERE key = 'revision';
