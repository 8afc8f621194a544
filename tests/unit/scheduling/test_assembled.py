"""The assembled feeds a process keeps: current only until the next change, and never
more bytes than their limit, the feed polled longest ago going first."""

from __future__ import annotations

from services.scheduling.assembled import Assembled, AssembledFeeds
from shared.notify import Notifier
from shared.settings import DatabaseSettings


def listening() -> Notifier:
    notifier = Notifier(DatabaseSettings(), "scheduling", ["scheduling.calendars"])
    notifier.listening = True
    return notifier


def assembled(size: int, tag: str = '"a"') -> Assembled:
    return Assembled(etag=tag, last_modified=None, body=b"x" * size)


def test_a_body_is_current_until_a_change_is_heard() -> None:
    notifier = listening()
    feeds = AssembledFeeds(1000).following(notifier)
    feeds.keep("token", feeds.changes, assembled(10))
    assert feeds.current("token") == assembled(10)
    notifier.wake_all()
    assert feeds.current("token") is None
    assert feeds.kept("token") == assembled(10)


def test_a_body_read_while_a_change_committed_is_not_current() -> None:
    feeds = AssembledFeeds(1000).following(listening())
    before = feeds.changes
    feeds.changed()
    feeds.keep("token", before, assembled(10))
    assert feeds.current("token") is None


def test_nothing_is_current_while_notifications_may_be_missed() -> None:
    notifier = listening()
    feeds = AssembledFeeds(1000).following(notifier)
    feeds.keep("token", feeds.changes, assembled(10))
    notifier.listening = False
    assert feeds.current("token") is None


def test_the_feed_polled_longest_ago_goes_first_past_the_limit() -> None:
    feeds = AssembledFeeds(100).following(listening())
    for token in ("a", "b", "c"):
        feeds.keep(token, feeds.changes, assembled(40))
    assert feeds.kept("a") is None
    assert feeds.current("b") is not None
    feeds.keep("d", feeds.changes, assembled(40))
    assert feeds.kept("c") is None
    assert feeds.kept("b") is not None
    assert feeds.kept("d") is not None


def test_a_body_larger_than_the_limit_is_not_kept() -> None:
    feeds = AssembledFeeds(100).following(listening())
    feeds.keep("small", feeds.changes, assembled(50))
    feeds.keep("large", feeds.changes, assembled(101))
    assert feeds.kept("large") is None
    assert feeds.kept("small") is not None


def test_a_body_kept_again_replaces_the_one_before() -> None:
    feeds = AssembledFeeds(100).following(listening())
    feeds.keep("a", feeds.changes, assembled(60))
    feeds.keep("a", feeds.changes, assembled(60, '"b"'))
    feeds.keep("b", feeds.changes, assembled(40))
    assert feeds.kept("a") == assembled(60, '"b"')
    assert feeds.kept("b") is not None
