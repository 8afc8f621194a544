-- The order in which rows changed, for change feeds (`shared/changes.py`): a row records the
-- id of the transaction that last wrote it. Rows are handed out in that order, and only
-- those of transactions older than every one still running, so a poller that resumes after
-- the last row it saw misses nothing and sees nothing twice. A sequence would not do: its
-- numbers are taken before commit, so a smaller one can become visible after a larger one.
CREATE FUNCTION mark_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.changed_in := pg_current_xact_id();
    NEW.updated_at := now();
    RETURN NEW;
END;
$$;
