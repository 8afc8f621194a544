"""Assembled feeds kept in memory by each process: a calendar program's poll is answered
from here, touching no row, until a transaction that changes some feed commits.

Migration 0007's triggers notify `scheduling.calendars` at every such commit, and every
process hears it (`shared.notify`). One change forgets that any kept body is current;
the next poll of each feed then asks the database for its ETag, keeps the body when the
ETag is unchanged, and assembles anew only a feed whose content changed. While the
process is not listening (its listening connection is lost), nothing kept is trusted.

Bounded by the bytes kept: the feed polled longest ago goes first.
"""

from __future__ import annotations

from collections import OrderedDict
from datetime import datetime
from typing import Final

import msgspec

from shared.notify import Notifier

CHANNEL: Final = "scheduling.calendars"


class Assembled(msgspec.Struct, frozen=True):
    """A feed's body as assembled, and what identifies it."""

    etag: str
    last_modified: datetime | None
    body: bytes


class AssembledFeeds:
    """The process's assembled feeds by token, up to `limit` bytes of bodies."""

    def __init__(self, limit: int) -> None:
        self._limit = limit
        self._kept: OrderedDict[str, tuple[int, Assembled]] = OrderedDict()
        self._size = 0
        self._changes = 0
        self._notifier: Notifier | None = None

    def following(self, notifier: Notifier) -> AssembledFeeds:
        """These feeds, forgotten as current at every change `notifier` hears."""
        if self._notifier is None:
            notifier.follow(CHANNEL, self.changed)
            self._notifier = notifier
        return self

    @property
    def changes(self) -> int:
        """Read before reading the database: what is kept with it is current until the
        next change, including one that commits while the database is read."""
        return self._changes

    def changed(self) -> None:
        self._changes += 1

    def current(self, token: str) -> Assembled | None:
        """The body kept for `token` if nothing changed since it was read."""
        found = self._kept.get(token)
        if found is None or self._notifier is None or not self._notifier.listening:
            return None
        changes, assembled = found
        if changes != self._changes:
            return None
        self._kept.move_to_end(token)
        return assembled

    def kept(self, token: str) -> Assembled | None:
        """The body kept for `token`, current or not: reused when its ETag still holds."""
        found = self._kept.get(token)
        return None if found is None else found[1]

    def keep(self, token: str, changes: int, assembled: Assembled) -> None:
        """Keep `assembled`, read when the change count was `changes`."""
        self.forget(token)
        if len(assembled.body) > self._limit:
            return
        self._kept[token] = (changes, assembled)
        self._size += len(assembled.body)
        while self._size > self._limit:
            _, (_, oldest) = self._kept.popitem(last=False)
            self._size -= len(oldest.body)

    def forget(self, token: str) -> None:
        found = self._kept.pop(token, None)
        if found is not None:
            self._size -= len(found[1].body)
