-- Read model of the registry's organizations, people and registrations, for services
-- that need them (filled from the REGISTRY stream).
CREATE TABLE organizations (
    id       uuid   PRIMARY KEY,
    name     text   NOT NULL,
    region   text   NOT NULL,
    timezone text   NOT NULL,
    version  bigint NOT NULL
);

CREATE TABLE people (
    id              uuid   PRIMARY KEY,
    organization_id uuid   NOT NULL,
    name            text   NOT NULL,
    email           text   NOT NULL,
    version         bigint NOT NULL
);

CREATE TABLE registrations (
    id              uuid   PRIMARY KEY,
    meeting_id      uuid   NOT NULL,
    person_id       uuid   NOT NULL,
    organization_id uuid   NOT NULL,
    status          text   NOT NULL,
    version         bigint NOT NULL
);

CREATE INDEX registrations_by_meeting ON registrations (meeting_id);
