-- One row per caller a service limits (an API key, or a client address without one): the
-- theoretical arrival time of its next request under GCRA (`shared.http.ratelimit`), in
-- seconds since the epoch on the database's clock, which every replica shares. A row whose
-- time has passed means the same as no row; the middleware deletes such rows now and then.
-- UNLOGGED: counters need no WAL, and after a crash an empty table only forgives a minute.
CREATE UNLOGGED TABLE rate_limits (
    subject    text             PRIMARY KEY, -- 'key:<id>', 'operator', 'address:<ip>'
    tat        double precision NOT NULL,
    checked_at double precision NOT NULL,    -- when the last request was decided
    allowed    boolean          NOT NULL     -- whether it was let through
);
