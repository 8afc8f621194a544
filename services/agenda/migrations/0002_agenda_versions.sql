-- Every version of an agenda is kept: the items as scheduled (instants, speakers named)
-- and as the operator wrote them. At most one version is the published one.
CREATE TABLE agenda_versions (
    meeting_id uuid        NOT NULL,
    version    integer     NOT NULL CHECK (version > 0),
    items      jsonb       NOT NULL,
    written    jsonb       NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    created_by text        NOT NULL,
    PRIMARY KEY (meeting_id, version)
);

-- `agendas` becomes the head of each meeting's versions: the latest, the published one,
-- and the version of the agenda's own events (one per publish or unpublish).
ALTER TABLE agendas
    ADD COLUMN latest_version    integer NOT NULL DEFAULT 0,
    ADD COLUMN published_version integer,
    ADD COLUMN published_at      timestamptz;

-- An agenda put before versions existed becomes its version 1, published. Its items had a
-- start, a title and speakers' names: each now lasts until the next one starts (the last
-- until the meeting ends), belongs to the session it starts in, and is written at its
-- instant in the host's zone; its speakers are external names.
WITH old AS (
    SELECT a.meeting_id,
           e.position,
           e.item ->> 'title' AS title,
           (e.item ->> 'starts_at')::timestamptz AS starts_at,
           coalesce(
               lead((e.item ->> 'starts_at')::timestamptz)
                   OVER (PARTITION BY a.meeting_id ORDER BY e.position),
               m.ends_at
           ) AS ends_at,
           coalesce(o.timezone, 'UTC') AS timezone,
           coalesce(
               (SELECT (s ->> 'id')::uuid FROM jsonb_array_elements(m.sessions) AS s
                WHERE (s ->> 'starts_at')::timestamptz <= (e.item ->> 'starts_at')::timestamptz
                ORDER BY (s ->> 'starts_at')::timestamptz DESC LIMIT 1),
               m.id
           ) AS session_id,
           coalesce(
               (SELECT jsonb_agg(jsonb_build_object('name', speaker.name, 'external', true))
                FROM jsonb_array_elements_text(e.item -> 'speakers') AS speaker(name)),
               '[]'::jsonb
           ) AS speakers
    FROM agendas AS a
    JOIN meetings AS m ON m.id = a.meeting_id
    LEFT JOIN organizations AS o ON o.id = m.host_organization_id
    CROSS JOIN LATERAL jsonb_array_elements(a.items) WITH ORDINALITY AS e(item, position)
),
converted AS (
    SELECT meeting_id,
           jsonb_agg(jsonb_build_object(
               'title', title, 'kind', 'talk', 'key', NULL,
               'starts_at', starts_at, 'ends_at', greatest(ends_at, starts_at + interval '1 minute'),
               'timezone', timezone, 'session_id', session_id, 'track', NULL,
               'speakers', speakers, 'materials', '[]'::jsonb
           ) ORDER BY position) AS items,
           jsonb_agg(jsonb_build_object(
               'title', title,
               'at', to_char(starts_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'),
               'duration', 'PT' || greatest(extract(epoch FROM ends_at - starts_at), 60)::bigint || 'S',
               'speakers', speakers
           ) ORDER BY position) AS written
    FROM old
    GROUP BY meeting_id
)
INSERT INTO agenda_versions (meeting_id, version, items, written, created_at, created_by)
SELECT c.meeting_id, 1, c.items, c.written, a.updated_at, 'before versions'
FROM converted AS c JOIN agendas AS a USING (meeting_id);

UPDATE agendas SET latest_version = 1, published_version = 1, published_at = updated_at
WHERE meeting_id IN (SELECT meeting_id FROM agenda_versions);

-- Agendas without any item (or for meetings never heard of) have nothing to keep.
DELETE FROM agendas WHERE latest_version = 0;

ALTER TABLE agendas DROP COLUMN items;
ALTER TABLE agendas RENAME COLUMN version TO event_version;
ALTER TABLE agendas ALTER COLUMN event_version SET DEFAULT 0;
