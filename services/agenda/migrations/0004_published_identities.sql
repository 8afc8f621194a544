-- What calendars and conference apps know each published item of an agenda by: a UID and
-- an event number that stay with the item across versions, and a sequence that rises with
-- each publication that changes what its event says (ICS SEQUENCE). Written when a version
-- is published (see services/agenda/identities.py). An item that leaves the agenda stays
-- here, so that it gets its UID back if it returns. `position` is its place among the
-- items of the version published last; NULL, it is not in it.
CREATE TABLE agenda_published_items (
    meeting_id uuid    NOT NULL,
    uid        uuid    NOT NULL,
    number     integer NOT NULL CHECK (number > 0),
    sequence   integer NOT NULL CHECK (sequence >= 0),
    item       jsonb   NOT NULL,
    position   integer CHECK (position >= 0),
    PRIMARY KEY (meeting_id, uid),
    UNIQUE (meeting_id, number),
    UNIQUE (meeting_id, position)
);

-- Speakers as frab schedules number them (a person's id is an integer there): one number
-- per registered person, one per external speaker, told apart by name and organization;
-- the same in every meeting's schedule, so that no app takes two people for one.
CREATE TABLE agenda_speakers (
    number       integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    person_id    uuid,
    name         text,
    organization text,
    CHECK (person_id IS NULL OR (name IS NULL AND organization IS NULL)),
    UNIQUE NULLS NOT DISTINCT (person_id, name, organization)
);

-- Every speaker of a version written before gets a number, in the order versions were
-- written, so that agendas published before this read as well as those published after.
INSERT INTO agenda_speakers (person_id, name, organization)
SELECT person_id, name, organization
FROM (
    SELECT (s ->> 'person_id')::uuid AS person_id,
           CASE WHEN s ->> 'person_id' IS NULL THEN s ->> 'name' END AS name,
           CASE WHEN s ->> 'person_id' IS NULL THEN s ->> 'organization' END AS organization,
           min(v.created_at) AS first_written
    FROM agenda_versions AS v
    CROSS JOIN LATERAL jsonb_array_elements(v.items) AS i(item)
    CROSS JOIN LATERAL jsonb_array_elements(i.item -> 'speakers') AS speaker(s)
    GROUP BY 1, 2, 3
) AS found
ORDER BY first_written, person_id, name, organization
ON CONFLICT DO NOTHING;
