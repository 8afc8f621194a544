-- The first successful answer to each POST sent with an Idempotency-Key, per credential:
-- a retry with the same key and request gets it again instead of repeating the change.
CREATE TABLE idempotent_requests (
    credential     text        NOT NULL, -- SHA-256 of the bearer key, or '' without one
    key            text        NOT NULL,
    request_sha256 text        NOT NULL,
    status         integer     NOT NULL,
    headers        jsonb       NOT NULL,
    body           bytea       NOT NULL,
    created_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (credential, key)
);
