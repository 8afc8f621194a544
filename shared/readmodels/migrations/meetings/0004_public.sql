-- Whether a meeting is public: a private one is seen only by its sites and staff. Rows
-- written before this column are taken as private until their next event says otherwise,
-- so that no private meeting is shown to everyone in between.
ALTER TABLE meetings ADD COLUMN public boolean NOT NULL DEFAULT false;
