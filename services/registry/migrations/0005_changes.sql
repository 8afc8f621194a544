-- Change feeds of people and registrations (`updated_since=`): see mark_changed().
ALTER TABLE people ADD COLUMN changed_in xid8 NOT NULL DEFAULT pg_current_xact_id();
CREATE TRIGGER people_change_order BEFORE UPDATE ON people
    FOR EACH ROW EXECUTE FUNCTION mark_changed();
CREATE INDEX people_in_change_order ON people (changed_in, id);

ALTER TABLE registrations ADD COLUMN changed_in xid8 NOT NULL DEFAULT pg_current_xact_id();
CREATE TRIGGER registrations_change_order BEFORE UPDATE ON registrations
    FOR EACH ROW EXECUTE FUNCTION mark_changed();
CREATE INDEX registrations_in_change_order ON registrations (meeting_id, changed_in, id);
