-- An organization's name and town in English, for English texts (summaries); absent,
-- those texts transliterate the Russian.
ALTER TABLE organizations
    ADD COLUMN name_en text,
    ADD COLUMN city_en text;
