-- Summaries become drafts an operator publishes. The writer keeps a draft current from the
-- data (a new version each time what the data says changes); an operator adds outcomes,
-- which makes a new version too, and publishes one. Every version is kept.
CREATE TABLE summary_versions (
    meeting_id uuid        NOT NULL,
    version    integer     NOT NULL CHECK (version > 0),
    content    jsonb       NOT NULL,
    outcomes   jsonb       NOT NULL DEFAULT '{}',
    created_at timestamptz NOT NULL DEFAULT now(),
    created_by text        NOT NULL,
    PRIMARY KEY (meeting_id, version)
);

-- `summaries` becomes the head of each meeting's versions, like `agendas`.
ALTER TABLE summaries
    ADD COLUMN latest_version    integer NOT NULL DEFAULT 0,
    ADD COLUMN published_version integer;

-- A summary written before versions was published as soon as it was written: it becomes
-- version 1, published. Its events go on counting from where they were.
INSERT INTO summary_versions (meeting_id, version, content, created_at, created_by)
SELECT meeting_id, 1, content, published_at, 'before versions' FROM summaries;
UPDATE summaries SET latest_version = 1, published_version = 1;

-- What a summary says grew (attendance, sessions, items' kinds and materials): each is
-- written again from the data, a new draft if it now says more.
INSERT INTO summary_requests (meeting_id) SELECT meeting_id FROM summaries
ON CONFLICT (meeting_id) DO NOTHING;

ALTER TABLE summaries DROP COLUMN content;
ALTER TABLE summaries RENAME COLUMN version TO event_version;
ALTER TABLE summaries ALTER COLUMN event_version SET DEFAULT 0;
ALTER TABLE summaries ALTER COLUMN published_at DROP NOT NULL;
ALTER TABLE summaries ALTER COLUMN published_at DROP DEFAULT;

-- Who was there, as the registry records it: a person's check-in to a session, or a
-- site's headcount for a session (people watching together without signing up).
CREATE TABLE attendance (
    id              uuid    PRIMARY KEY,
    meeting_id      uuid    NOT NULL,
    session_id      uuid    NOT NULL,
    organization_id uuid    NOT NULL,
    person_id       uuid,
    attended        boolean NOT NULL,
    headcount       integer,
    version         bigint  NOT NULL
);
CREATE INDEX attendance_by_meeting ON attendance (meeting_id);
