-- A meeting's sessions (none listed: one session whose id is the meeting's).
ALTER TABLE meetings ADD COLUMN sessions jsonb NOT NULL DEFAULT '[]';
