"""Trace context: a child keeps its parent's trace, and a bad parent starts a new trace."""

from __future__ import annotations

import re

import pytest
import structlog
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from shared.tracing import child_of, current_traceparent, span, trace_id_of

TRACEPARENT = re.compile(r"00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})")
PARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


def parts(traceparent: str) -> tuple[str, str, str]:
    match = TRACEPARENT.fullmatch(traceparent)
    assert match, f"not a valid traceparent: {traceparent!r}"
    trace_id, span_id, flags = match.groups()
    assert int(trace_id, 16) != 0
    assert int(span_id, 16) != 0
    return trace_id, span_id, flags


def test_a_child_keeps_the_trace_and_gets_a_span_of_its_own() -> None:
    child = child_of(PARENT)
    trace_id, span_id, flags = parts(child)

    assert trace_id == "4bf92f3577b34da6a3ce929d0e0e4736"
    assert span_id != "00f067aa0ba902b7"
    assert flags == "01"
    assert trace_id_of(child) == trace_id


def test_siblings_share_the_trace_but_not_the_span() -> None:
    first, second = child_of(PARENT), child_of(PARENT)
    assert parts(first)[0] == parts(second)[0]
    assert parts(first)[1] != parts(second)[1]


def test_a_grandchild_is_still_in_the_same_trace() -> None:
    assert trace_id_of(child_of(child_of(PARENT))) == trace_id_of(PARENT)


@pytest.mark.parametrize(
    "parent",
    [
        None,
        "",
        "garbage",
        "00-00000000000000000000000000000000-00f067aa0ba902b7-01",  # all-zero trace id
        "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",  # all-zero span id
        "00-4BF92F3577B34DA6A3CE929D0E0E4736-00F067AA0BA902B7-01",  # upper case
        "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",  # unknown version
        "00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01",  # short trace id
        PARENT + "-extra",
    ],
)
def test_an_unusable_parent_starts_a_new_trace(parent: str | None) -> None:
    child = child_of(parent)
    trace_id, _, _ = parts(child)

    assert trace_id != "4bf92f3577b34da6a3ce929d0e0e4736"
    assert trace_id_of(child_of(parent)) != trace_id  # each a trace of its own


@hypothesis_settings(max_examples=100)
@given(st.one_of(st.none(), st.text(max_size=80)))
def test_any_parent_gives_a_valid_traceparent(parent: str | None) -> None:
    parts(child_of(parent))


def test_span_sets_the_current_traceparent_and_restores_it() -> None:
    assert current_traceparent() is None
    with span(PARENT) as outer:
        assert current_traceparent() == outer
        assert trace_id_of(outer) == trace_id_of(PARENT)
        with span(outer) as inner:
            assert current_traceparent() == inner
            assert trace_id_of(inner) == trace_id_of(PARENT)
            assert inner != outer
        assert current_traceparent() == outer
    assert current_traceparent() is None


def test_span_restores_the_traceparent_when_the_block_fails() -> None:
    with pytest.raises(RuntimeError), span(None):
        raise RuntimeError("boom")
    assert current_traceparent() is None


def test_span_binds_the_trace_id_to_the_logs() -> None:
    with span(PARENT):
        bound = structlog.contextvars.get_contextvars()
        assert bound["trace_id"] == trace_id_of(PARENT)
    assert "trace_id" not in structlog.contextvars.get_contextvars()
