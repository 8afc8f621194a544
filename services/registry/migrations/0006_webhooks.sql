-- Webhooks (services/registry/webhooks): partners' endpoints, the secrets they are signed
-- with, and a persisted queue of deliveries with a log of every attempt.
CREATE TABLE webhook_endpoints (
    id              uuid        PRIMARY KEY,
    organization_id uuid        NOT NULL REFERENCES organizations (id),
    url             text        NOT NULL,
    event_types     text[]      NOT NULL,
    ordered         boolean     NOT NULL DEFAULT false,
    description     text,
    enabled         boolean     NOT NULL DEFAULT true,
    disabled_reason text,
    disabled_at     timestamptz,
    -- First failure since the last success: an endpoint failing for a day is disabled.
    failing_since   timestamptz,
    version         bigint      NOT NULL DEFAULT 1,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX webhook_endpoints_of_organization ON webhook_endpoints (organization_id);

-- Secrets sign every message; after a rotation the old one signs too until it expires.
CREATE TABLE webhook_secrets (
    endpoint_id uuid        NOT NULL REFERENCES webhook_endpoints (id) ON DELETE CASCADE,
    secret      text        NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    expires_at  timestamptz,
    PRIMARY KEY (endpoint_id, secret)
);

CREATE TABLE webhook_deliveries (
    -- Creation order: an ordered endpoint gets an aggregate's events in this order.
    position          bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    endpoint_id       uuid        NOT NULL REFERENCES webhook_endpoints (id) ON DELETE CASCADE,
    event_id          uuid        NOT NULL,
    event_type        text        NOT NULL,
    aggregate_id      uuid        NOT NULL,
    aggregate_version bigint      NOT NULL,
    body              bytea       NOT NULL,
    state             text        NOT NULL DEFAULT 'pending'
        CHECK (state IN ('pending', 'delivered', 'failed')),
    attempts          integer     NOT NULL DEFAULT 0,
    next_attempt_at   timestamptz NOT NULL DEFAULT now(),
    -- Taken by a sender until then; a sender that died leaves it to the next one.
    leased_until      timestamptz,
    created_at        timestamptz NOT NULL DEFAULT now(),
    delivered_at      timestamptz,
    UNIQUE (endpoint_id, event_id)
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_at)
    WHERE state = 'pending';
CREATE INDEX webhook_deliveries_of_endpoint ON webhook_deliveries (endpoint_id, created_at);
CREATE INDEX webhook_deliveries_in_aggregate_order
    ON webhook_deliveries (endpoint_id, aggregate_id, position) WHERE state = 'pending';

CREATE TABLE webhook_attempts (
    id               uuid        PRIMARY KEY,
    delivery         bigint      NOT NULL REFERENCES webhook_deliveries (position)
        ON DELETE CASCADE,
    attempted_at     timestamptz NOT NULL DEFAULT now(),
    status_code      integer,
    duration_ms      double precision NOT NULL,
    response_excerpt text,
    error            text
);
CREATE INDEX webhook_attempts_of_delivery ON webhook_attempts (delivery, attempted_at);

CREATE TRIGGER webhook_deliveries_queued
    AFTER INSERT OR UPDATE OF next_attempt_at, state ON webhook_deliveries
    FOR EACH STATEMENT EXECUTE FUNCTION notify_change();
