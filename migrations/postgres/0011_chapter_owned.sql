-- Groups and services owned by a chapter (issue 15): NULL = federal. A chapter group admits
-- only members of that state association; a chapter service sees only its members. Automatic
-- groups are never chapter-owned.
ALTER TABLE groups ADD COLUMN chapter TEXT;
ALTER TABLE groups ADD CONSTRAINT groups_chapter_manual CHECK (chapter IS NULL OR kind = 'manual');
ALTER TABLE services ADD COLUMN chapter TEXT;
