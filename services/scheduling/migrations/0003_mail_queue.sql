-- Mail waiting for the SMTP server, queued in the transaction of the change that causes
-- it. `dedupe_key` names the recipient, the calendar object, the method, the SEQUENCE and
-- the cause: a redelivered event or a retried request queues nothing twice. A sender
-- leases a mail by moving `next_attempt_at` forward before it talks to the server.
CREATE TABLE outgoing_mail (
    id               uuid        PRIMARY KEY,
    dedupe_key       text        NOT NULL UNIQUE,
    sender           text        NOT NULL,
    recipients       text[]      NOT NULL CHECK (cardinality(recipients) > 0),
    message          bytea       NOT NULL,
    queued_at        timestamptz NOT NULL DEFAULT now(),
    attempts         integer     NOT NULL DEFAULT 0,
    next_attempt_at  timestamptz NOT NULL DEFAULT now(),
    last_error       text,
    sent_at          timestamptz,
    failed_at        timestamptz
);

CREATE INDEX outgoing_mail_due ON outgoing_mail (next_attempt_at)
    WHERE sent_at IS NULL AND failed_at IS NULL;

CREATE TRIGGER outgoing_mail_queued
    AFTER INSERT ON outgoing_mail
    FOR EACH STATEMENT EXECUTE FUNCTION notify_change();
