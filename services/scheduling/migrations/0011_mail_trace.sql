-- The W3C trace context of the change that queued a mail (a consumer applying a
-- registration, a request moving a meeting): the sender's span continues that trace, so
-- one trace follows a sign-up to the invite it causes.
ALTER TABLE outgoing_mail ADD COLUMN traceparent text;
