-- Wakes every scheduling process that keeps assembled feeds in memory (services.scheduling
-- .assembled) when a transaction that changes what some feed holds or is called commits:
-- its entries, who takes part (sites, registrations), which meetings are public, the
-- feeds themselves (revoked, rotated), and the names a feed is titled with. Row triggers,
-- so that a statement that changes nothing wakes nobody; PostgreSQL sends one
-- notification per transaction however many rows fire it.
CREATE FUNCTION notify_calendars() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify(TG_TABLE_SCHEMA || '.calendars', '');
    RETURN NULL;
END;
$$;

CREATE TRIGGER calendar_entries_change_calendars
    AFTER INSERT OR UPDATE OR DELETE ON calendar_entries
    FOR EACH ROW EXECUTE FUNCTION notify_calendars();
CREATE TRIGGER meeting_sites_change_calendars
    AFTER INSERT OR UPDATE OR DELETE ON meeting_sites
    FOR EACH ROW EXECUTE FUNCTION notify_calendars();
CREATE TRIGGER registrations_change_calendars
    AFTER INSERT OR DELETE ON registrations
    FOR EACH ROW EXECUTE FUNCTION notify_calendars();
CREATE TRIGGER registrations_status_change_calendars
    AFTER UPDATE ON registrations
    FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status
                       OR OLD.person_id IS DISTINCT FROM NEW.person_id
                       OR OLD.meeting_id IS DISTINCT FROM NEW.meeting_id)
    EXECUTE FUNCTION notify_calendars();
CREATE TRIGGER meetings_change_calendars
    AFTER INSERT OR DELETE ON meetings
    FOR EACH ROW EXECUTE FUNCTION notify_calendars();
CREATE TRIGGER meetings_publicity_change_calendars
    AFTER UPDATE ON meetings
    FOR EACH ROW WHEN (OLD.public IS DISTINCT FROM NEW.public)
    EXECUTE FUNCTION notify_calendars();
CREATE TRIGGER feeds_change_calendars
    AFTER INSERT OR UPDATE OR DELETE ON feeds
    FOR EACH ROW EXECUTE FUNCTION notify_calendars();
CREATE TRIGGER organizations_rename_calendars
    AFTER UPDATE ON organizations
    FOR EACH ROW WHEN (OLD.name IS DISTINCT FROM NEW.name)
    EXECUTE FUNCTION notify_calendars();
CREATE TRIGGER people_rename_calendars
    AFTER UPDATE ON people
    FOR EACH ROW WHEN (OLD.name IS DISTINCT FROM NEW.name
                       OR OLD.language IS DISTINCT FROM NEW.language)
    EXECUTE FUNCTION notify_calendars();
-- A feed made before its person or organization arrived is titled without a name.
CREATE TRIGGER organizations_arrive_calendars
    AFTER INSERT ON organizations
    FOR EACH ROW EXECUTE FUNCTION notify_calendars();
CREATE TRIGGER people_arrive_calendars
    AFTER INSERT ON people
    FOR EACH ROW EXECUTE FUNCTION notify_calendars();
