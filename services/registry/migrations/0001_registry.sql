CREATE TABLE organizations (
    id         uuid        PRIMARY KEY,
    name       text        NOT NULL,
    region     text        NOT NULL,
    timezone   text        NOT NULL,
    version    bigint      NOT NULL DEFAULT 1,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE people (
    id              uuid        PRIMARY KEY,
    organization_id uuid        NOT NULL REFERENCES organizations (id),
    name            text        NOT NULL,
    email           text        NOT NULL,
    version         bigint      NOT NULL DEFAULT 1,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now()
);

CREATE UNIQUE INDEX people_email_per_organization ON people (organization_id, lower(email));

CREATE TABLE registrations (
    id              uuid        PRIMARY KEY,
    meeting_id      uuid        NOT NULL REFERENCES meetings (id),
    person_id       uuid        NOT NULL REFERENCES people (id),
    organization_id uuid        NOT NULL REFERENCES organizations (id),
    status          text        NOT NULL DEFAULT 'registered',
    version         bigint      NOT NULL DEFAULT 1,
    created_at      timestamptz NOT NULL DEFAULT now(),
    UNIQUE (meeting_id, person_id)
);
