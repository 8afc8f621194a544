-- The sender walks the waiting mail in queue order and takes the first that is due and is
-- its recipient's oldest waiting mail (a probe of `outgoing_mail_waiting`), so that taking
-- one costs the same however many wait; picking each recipient's oldest of all the waiting
-- mail first (DISTINCT ON) read the whole backlog for every mail sent.
CREATE INDEX outgoing_mail_queue ON outgoing_mail (position)
    WHERE sent_at IS NULL AND failed_at IS NULL AND skipped_at IS NULL;
