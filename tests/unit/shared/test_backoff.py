"""Waits between attempts: doubling up to a cap, jittered so replicas spread out."""

from __future__ import annotations

from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from shared.backoff import Backoff, doubling


@hypothesis_settings(max_examples=300)
@given(
    first=st.floats(min_value=0.01, max_value=120.0),
    attempt=st.integers(min_value=-3, max_value=5_000),
    longest=st.floats(min_value=0.01, max_value=3600.0),
)
def test_a_wait_lies_in_the_upper_half_of_its_doubled_ceiling(
    first: float, attempt: int, longest: float
) -> None:
    ceiling = min(first * 2.0 ** min(max(attempt, 1) - 1, 60), longest)

    assert ceiling / 2 <= doubling(first, attempt, longest) <= ceiling


def test_waits_are_spread_not_all_the_same() -> None:
    waits = {doubling(1.0, 4, 60.0) for _ in range(50)}

    assert len(waits) > 40
    assert min(waits) < 5.0 < max(waits)


def test_a_loop_waits_longer_after_each_failure_and_short_again_after_success() -> None:
    backoff = Backoff(first=0.1, longest=5.0)
    first = backoff.delay()
    for _ in range(10):
        backoff.delay()
    late = backoff.delay()
    backoff.reset()

    assert 0.05 <= first <= 0.1
    assert 2.5 <= late <= 5.0
    assert 0.05 <= backoff.delay() <= 0.1
