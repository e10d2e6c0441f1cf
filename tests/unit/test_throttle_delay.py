"""delay_after(): how long sign-in pauses after repeated failures (PROTOCOL.md, sessions).

Slow enough to stop guessing, never a permanent lock-out: exponential, capped at 1 hour.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tenure.services.sessions import ACCOUNT_THRESHOLD, ADDRESS_THRESHOLD, delay_after

HOUR = 3600


def test_protocol_threshold_is_five_failures() -> None:
    """PROTOCOL.md: `429` once an account has 5 consecutive failures."""
    assert ACCOUNT_THRESHOLD == 5
    assert delay_after(4, ACCOUNT_THRESHOLD) == 0
    assert delay_after(5, ACCOUNT_THRESHOLD) > 0


@pytest.mark.parametrize("failures", range(ACCOUNT_THRESHOLD))
def test_no_delay_below_threshold(failures: int) -> None:
    """A few typos never slow an owner down."""
    assert delay_after(failures, ACCOUNT_THRESHOLD) == 0


def test_delay_doubles_with_each_further_failure() -> None:
    delays = [delay_after(ACCOUNT_THRESHOLD + k, ACCOUNT_THRESHOLD) for k in range(6)]
    assert delays[0] > 0
    assert all(later == 2 * earlier for earlier, later in zip(delays, delays[1:], strict=False))


def test_delay_is_capped_at_one_hour() -> None:
    """An account is never locked out for good: at most an hour per pause."""
    assert delay_after(ACCOUNT_THRESHOLD + 100, ACCOUNT_THRESHOLD) == HOUR
    assert delay_after(10**9, ACCOUNT_THRESHOLD) == HOUR
    assert delay_after(10**9, ADDRESS_THRESHOLD) == HOUR


@settings(max_examples=200, deadline=None)
@given(failures=st.integers(min_value=0, max_value=10**6),
       threshold=st.sampled_from([ACCOUNT_THRESHOLD, ADDRESS_THRESHOLD]))
def test_delay_is_monotonic_and_bounded(failures: int, threshold: int) -> None:
    """One more failure never shortens the pause, and no pause exceeds an hour."""
    delay = delay_after(failures, threshold)
    assert 0 <= delay <= HOUR
    assert delay_after(failures + 1, threshold) >= delay
    assert (delay == 0) == (failures < threshold)
