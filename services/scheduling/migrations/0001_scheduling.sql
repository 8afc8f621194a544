CREATE TABLE meetings (
    id                   uuid        PRIMARY KEY,
    title                text        NOT NULL,
    kind                 text        NOT NULL
        CHECK (kind IN ('telebridge', 'videoconference', 'workshop')),
    status               text        NOT NULL DEFAULT 'scheduled'
        CHECK (status IN ('scheduled', 'live', 'ended', 'cancelled')),
    host_organization_id uuid        NOT NULL,
    starts_at            timestamptz NOT NULL,
    ends_at              timestamptz NOT NULL,
    started_at           timestamptz,
    ended_at             timestamptz,
    -- iCalendar SEQUENCE: raised on every change an attendee must see, never lowered.
    sequence             integer     NOT NULL DEFAULT 0,
    version              bigint      NOT NULL DEFAULT 1,
    created_at           timestamptz NOT NULL DEFAULT now(),
    updated_at           timestamptz NOT NULL DEFAULT now(),
    CHECK (ends_at > starts_at)
);

CREATE INDEX meetings_due_to_start ON meetings (starts_at) WHERE status = 'scheduled';
CREATE INDEX meetings_due_to_end ON meetings (ends_at) WHERE status = 'live';

-- The organizations taking part, each a site with its own room; the host is one of them.
CREATE TABLE meeting_sites (
    meeting_id      uuid    NOT NULL REFERENCES meetings (id) ON DELETE CASCADE,
    organization_id uuid    NOT NULL,
    position        integer NOT NULL,
    PRIMARY KEY (meeting_id, organization_id)
);

CREATE INDEX meeting_sites_by_organization ON meeting_sites (organization_id);

-- Wake the meeting clock whenever meetings change: the next instant due may have moved.
CREATE TRIGGER meetings_changed
    AFTER INSERT OR UPDATE ON meetings
    FOR EACH STATEMENT EXECUTE FUNCTION notify_change();
