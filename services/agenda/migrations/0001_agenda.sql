CREATE TABLE agendas (
    meeting_id uuid        PRIMARY KEY,
    id         uuid        NOT NULL UNIQUE,
    items      jsonb       NOT NULL,
    version    bigint      NOT NULL DEFAULT 1,
    updated_at timestamptz NOT NULL DEFAULT now()
);

-- The summary written when a meeting ends, rewritten when late data changes it.
CREATE TABLE summaries (
    meeting_id   uuid        PRIMARY KEY,
    id           uuid        NOT NULL UNIQUE,
    content      jsonb       NOT NULL,
    version      bigint      NOT NULL DEFAULT 1,
    published_at timestamptz NOT NULL DEFAULT now()
);

-- Meetings whose summary must be (re)written once changes to them stop arriving.
CREATE TABLE summary_requests (
    meeting_id   uuid        PRIMARY KEY,
    requested_at timestamptz NOT NULL DEFAULT now(),
    failures     integer     NOT NULL DEFAULT 0
);

CREATE TRIGGER summary_requested
    AFTER INSERT OR UPDATE ON summary_requests
    FOR EACH STATEMENT EXECUTE FUNCTION notify_change();
