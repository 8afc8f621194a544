"""Invites by e-mail: composed in the recipient's language, queued in the database in the
transaction that causes them, and sent by a worker that retries until the server takes them."""
