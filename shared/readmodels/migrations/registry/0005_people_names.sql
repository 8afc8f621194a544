-- The parts of a person's name, so that letters greet people as they are greeted
-- («Ирина Леонидовна») rather than by the display name on lists («Алехина И. Л.»). Filled
-- from each person's next event; until then letters use the display name.
ALTER TABLE people
    ADD COLUMN surname    text,
    ADD COLUMN given_name text,
    ADD COLUMN patronymic text;
