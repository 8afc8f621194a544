-- The change that causes a mail queues a small record of it: who (the person), which
-- meeting and calendar object (UID, and the occurrence of a series a CANCEL names), which
-- method, wording and SEQUENCE. The sender writes the message when it sends it, from the
-- meeting as it is then, and keeps what it sent in `message`.
--
-- `position` is the order of queueing: the queue is written under the meeting's lock, so
-- within one meeting it is the order of the changes; each person's mails leave in it.
-- `skipped_at` marks a mail that will not be sent, with the reason in `last_error`: a
-- newer mail for the same person and calendar object was queued before it left (the
-- newer one says everything), or the object was over by then.
--
-- Mail queued before this migration keeps its message and is sent as it is.
ALTER TABLE outgoing_mail
    ADD COLUMN position      bigint GENERATED ALWAYS AS IDENTITY,
    ADD COLUMN person_id     uuid,
    ADD COLUMN meeting_id    uuid,
    ADD COLUMN uid           text,
    ADD COLUMN method        text CHECK (method IN ('REQUEST', 'CANCEL')),
    ADD COLUMN kind          text CHECK (kind IN ('invitation', 'update', 'cancellation')),
    ADD COLUMN sequence      integer,
    ADD COLUMN session_id    uuid,
    ADD COLUMN skipped_at    timestamptz,
    ALTER COLUMN sender DROP NOT NULL,
    ALTER COLUMN recipients DROP NOT NULL,
    ALTER COLUMN message DROP NOT NULL,
    ADD CONSTRAINT outgoing_mail_record_or_message CHECK (
        message IS NOT NULL
        OR (person_id IS NOT NULL AND meeting_id IS NOT NULL AND uid IS NOT NULL
            AND method IS NOT NULL AND kind IS NOT NULL AND sequence IS NOT NULL));

DROP INDEX outgoing_mail_due;

-- The sender's question: each recipient's oldest mail not yet sent, given up or skipped.
CREATE INDEX outgoing_mail_waiting ON outgoing_mail (coalesce(person_id, id), position)
    WHERE sent_at IS NULL AND failed_at IS NULL AND skipped_at IS NULL;

-- Whether a newer mail for the same person and object waits, and whether one was sent.
CREATE INDEX outgoing_mail_by_object ON outgoing_mail (person_id, uid, position);
