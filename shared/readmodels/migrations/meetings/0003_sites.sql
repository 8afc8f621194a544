-- Each site with its room and workshop track (MeetingSite); filled from the next event of
-- each meeting.
ALTER TABLE meetings ADD COLUMN sites jsonb NOT NULL DEFAULT '[]';
