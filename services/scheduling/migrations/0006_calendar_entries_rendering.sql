-- Which rendering of the calendar entries wrote each one (`calendar_entries.RENDERING`):
-- at start-up, scheduling renders again the entries an earlier rendering wrote, so that a
-- feed says what an invite says. Every entry kept so far is of rendering 0.
ALTER TABLE calendar_entries ADD COLUMN rendering integer NOT NULL DEFAULT 0;

CREATE INDEX calendar_entries_by_rendering ON calendar_entries (rendering, meeting_id);
