-- Organizations have a country (ISO 3166-1 alpha-2). Those registered so far are Russian,
-- each with a region from the directory; one abroad has its country and, where the
-- holidays package keeps a subdivision's holidays, that subdivision in region_code.
ALTER TABLE organizations
    ADD COLUMN country text NOT NULL DEFAULT 'RU' CHECK (country ~ '^[A-Z]{2}$'),
    ADD CONSTRAINT organizations_russian_have_a_region
        CHECK (country <> 'RU' OR region_code IS NOT NULL) NOT VALID;
