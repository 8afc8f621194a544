-- Events waiting to be published, written in the same transaction as the change they describe.
CREATE TABLE outbox (
    position          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    event_id          uuid        NOT NULL UNIQUE,
    subject           text        NOT NULL,
    aggregate_type    text        NOT NULL,
    aggregate_id      uuid        NOT NULL,
    aggregate_version bigint      NOT NULL,
    payload           bytea       NOT NULL, -- the event as msgspec encoded it: what is sent
    traceparent       text,
    created_at        timestamptz NOT NULL DEFAULT now(),
    sent_at           timestamptz,
    attempts          integer     NOT NULL DEFAULT 0,
    last_error        text
);

CREATE INDEX outbox_unsent ON outbox (position) WHERE sent_at IS NULL;
CREATE INDEX outbox_unsent_by_aggregate
    ON outbox (aggregate_type, aggregate_id, position) WHERE sent_at IS NULL;
CREATE INDEX outbox_sent ON outbox (sent_at) WHERE sent_at IS NOT NULL;

-- Wakes whoever LISTENs on "<schema>.<table>" when a transaction that changed the table
-- commits: the outbox relay, and any service table that triggers it.
CREATE FUNCTION notify_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify(TG_TABLE_SCHEMA || '.' || TG_TABLE_NAME, '');
    RETURN NULL;
END;
$$;

CREATE TRIGGER outbox_written
    AFTER INSERT ON outbox
    FOR EACH STATEMENT EXECUTE FUNCTION notify_change();

-- Events each consumer of this service received: a redelivery is recognised and skipped.
CREATE TABLE inbox (
    consumer          text        NOT NULL,
    event_id          uuid        NOT NULL,
    subject           text        NOT NULL,
    aggregate_type    text        NOT NULL,
    aggregate_id      uuid        NOT NULL,
    aggregate_version bigint      NOT NULL,
    applied           boolean     NOT NULL,
    received_at       timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (consumer, event_id)
);

-- The newest version of every aggregate each consumer has applied: older ones are stale.
CREATE TABLE aggregate_versions (
    consumer       text   NOT NULL,
    aggregate_type text   NOT NULL,
    aggregate_id   uuid   NOT NULL,
    version        bigint NOT NULL,
    PRIMARY KEY (consumer, aggregate_type, aggregate_id)
);
