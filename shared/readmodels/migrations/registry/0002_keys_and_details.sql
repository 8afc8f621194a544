-- What the registry's events carry beyond the first version: organization details,
-- a registration's role and RSVP, and the API keys every service verifies locally.
ALTER TABLE organizations
    ADD COLUMN short_name     text,
    ADD COLUMN kind           text    NOT NULL DEFAULT 'other',
    ADD COLUMN region_code    text,
    ADD COLUMN city           text,
    ADD COLUMN working_hours  jsonb,
    ADD COLUMN blackout_dates date[]  NOT NULL DEFAULT '{}',
    ADD COLUMN public         boolean NOT NULL DEFAULT true;

ALTER TABLE people
    ADD COLUMN language text NOT NULL DEFAULT 'ru';

ALTER TABLE registrations
    ADD COLUMN role text NOT NULL DEFAULT 'participant',
    ADD COLUMN rsvp text NOT NULL DEFAULT 'needs-action';

CREATE TABLE api_keys (
    id              uuid        PRIMARY KEY,
    prefix          text        NOT NULL UNIQUE,
    secret_sha256   text        NOT NULL,
    role            text        NOT NULL,
    organization_id uuid,
    scopes          text[]      NOT NULL,
    expires_at      timestamptz,
    revoked_at      timestamptz,
    last_used_at    timestamptz, -- when this service last saw it
    version         bigint      NOT NULL
);
