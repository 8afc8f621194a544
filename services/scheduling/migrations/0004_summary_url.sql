-- The published post-event summary of a meeting: its calendar event links to it.
ALTER TABLE meetings
    ADD COLUMN summary_url     text,
    ADD COLUMN summary_version bigint NOT NULL DEFAULT 0;
