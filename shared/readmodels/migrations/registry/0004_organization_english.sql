-- An organization's name and town in English, as OrganizationUpserted carries them.
ALTER TABLE organizations
    ADD COLUMN name_en text,
    ADD COLUMN city_en text;
