"""How often a page polls a live run: fast until the first point is on screen, calmer afterwards."""

from __future__ import annotations

from fmnist_core.progress import FIRST_POINT_POLL_SECONDS, LIVE_POLL_SECONDS, live_poll_seconds


def test_poll_is_fast_until_the_first_point_then_calm():
    assert FIRST_POINT_POLL_SECONDS < LIVE_POLL_SECONDS <= 1.0
    assert live_poll_seconds("queued", False) == FIRST_POINT_POLL_SECONDS
    assert (
        live_poll_seconds("queued", True) == FIRST_POINT_POLL_SECONDS
    )  # a resumed run waits with its points
    assert live_poll_seconds("running", False) == FIRST_POINT_POLL_SECONDS
    assert live_poll_seconds("running", True) == LIVE_POLL_SECONDS
