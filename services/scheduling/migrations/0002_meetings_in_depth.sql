-- Meetings in depth: drafts, the zone their times are written in, a conference link,
-- recurring series, rooms and tracks of sites, sessions, the published agenda, and the
-- calendar entries and feeds built from them.
ALTER TABLE meetings DROP CONSTRAINT meetings_status_check;
ALTER TABLE meetings ADD CONSTRAINT meetings_status_check
    CHECK (status IN ('draft', 'scheduled', 'live', 'ended', 'cancelled'));

ALTER TABLE meetings
    ADD COLUMN timezone         text,
    ADD COLUMN conference       jsonb,
    ADD COLUMN recurrence       text,
    ADD COLUMN series_length    interval,
    ADD COLUMN public           boolean NOT NULL DEFAULT true,
    ADD COLUMN agenda           jsonb,
    ADD COLUMN agenda_url       text,
    ADD COLUMN agenda_version   bigint  NOT NULL DEFAULT 0,
    ADD COLUMN forced_by        text;

COMMENT ON COLUMN meetings.forced_by IS
    'The key (prefix) of the operator who scheduled it against the constraints, if one did.';

ALTER TABLE meeting_sites
    ADD COLUMN room  text,
    ADD COLUMN track text;

-- The sittings of a meeting. A meeting without sessions of its own has one, whose id is
-- the meeting's; a recurring meeting has one per occurrence.
CREATE TABLE meeting_sessions (
    id            uuid        PRIMARY KEY,
    meeting_id    uuid        NOT NULL REFERENCES meetings (id) ON DELETE CASCADE,
    position      integer     NOT NULL,
    title         text,
    track         text,
    starts_at     timestamptz NOT NULL,
    ends_at       timestamptz NOT NULL,
    recurrence_id timestamptz,
    status        text        NOT NULL DEFAULT 'scheduled'
        CHECK (status IN ('scheduled', 'cancelled')),
    CHECK (ends_at > starts_at),
    UNIQUE (meeting_id, recurrence_id)
);

CREATE INDEX meeting_sessions_by_meeting ON meeting_sessions (meeting_id, position);
CREATE INDEX meeting_sessions_by_time ON meeting_sessions (starts_at, ends_at)
    WHERE status = 'scheduled';

INSERT INTO meeting_sessions (id, meeting_id, position, starts_at, ends_at)
SELECT id, id, 1, starts_at, ends_at FROM meetings;

-- Render on write: each calendar object's VEVENTs as iCalendar text, written when the
-- meeting changes, so that a feed is assembled from them, never re-rendered, on GET.
CREATE TABLE calendar_entries (
    uid        text        PRIMARY KEY,
    meeting_id uuid        NOT NULL REFERENCES meetings (id) ON DELETE CASCADE,
    starts_at  timestamptz NOT NULL,
    ends_at    timestamptz NOT NULL,
    tzids      text[]      NOT NULL,
    body       text        NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX calendar_entries_by_meeting ON calendar_entries (meeting_id);

-- Subscription feeds: each behind an unguessable token in its URL.
CREATE TABLE feeds (
    id              uuid        PRIMARY KEY,
    kind            text        NOT NULL CHECK (kind IN ('organization', 'person', 'public')),
    organization_id uuid,
    person_id       uuid,
    token           text        NOT NULL UNIQUE,
    created_at      timestamptz NOT NULL DEFAULT now(),
    revoked_at      timestamptz,
    replaced_by     uuid        REFERENCES feeds (id),
    CHECK ((kind = 'organization') = (organization_id IS NOT NULL)),
    CHECK ((kind = 'person') = (person_id IS NOT NULL))
);

CREATE INDEX feeds_by_organization ON feeds (organization_id) WHERE organization_id IS NOT NULL;
CREATE INDEX feeds_by_person ON feeds (person_id) WHERE person_id IS NOT NULL;
