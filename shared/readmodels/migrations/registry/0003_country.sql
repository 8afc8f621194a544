-- The organization's country (ISO 3166-1 alpha-2): Russian unless its event says otherwise,
-- as every event before the field was.
ALTER TABLE organizations ADD COLUMN country text NOT NULL DEFAULT 'RU';
