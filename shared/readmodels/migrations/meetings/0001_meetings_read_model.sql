-- Read model of scheduling's meetings, for services that need them (filled from the
-- SCHEDULING stream; every meeting event carries the whole meeting).
CREATE TABLE meetings (
    id                   uuid        PRIMARY KEY,
    title                text        NOT NULL,
    kind                 text        NOT NULL,
    status               text        NOT NULL,
    host_organization_id uuid        NOT NULL,
    organization_ids     uuid[]      NOT NULL,
    starts_at            timestamptz NOT NULL,
    ends_at              timestamptz NOT NULL,
    started_at           timestamptz,
    ended_at             timestamptz,
    version              bigint      NOT NULL
);
