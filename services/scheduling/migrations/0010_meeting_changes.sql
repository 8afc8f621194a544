-- The change feed of meetings (GET /meetings?updated_since=): see mark_changed().
ALTER TABLE meetings ADD COLUMN changed_in xid8 NOT NULL DEFAULT pg_current_xact_id();
CREATE TRIGGER meetings_change_order BEFORE UPDATE ON meetings
    FOR EACH ROW EXECUTE FUNCTION mark_changed();
CREATE INDEX meetings_in_change_order ON meetings (changed_in, id);
