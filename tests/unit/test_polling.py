from __future__ import annotations

from itertools import islice

import pytest

from airflow_batchstream.polling import JITTER, poll_delays


def test_delays_double_from_the_first_up_to_the_poll_interval():
    delays = list(islice(poll_delays(10.0, first=0.5), 8))
    nominal = [0.5, 1, 2, 4, 8, 10, 10, 10]
    for delay, expected in zip(delays, nominal, strict=True):
        assert expected * (1 - JITTER) <= delay <= expected * (1 + JITTER)


def test_a_poll_interval_below_the_first_delay_caps_it():
    assert max(islice(poll_delays(0.1), 5)) <= 0.1 * (1 + JITTER)


@pytest.mark.parametrize("interval", [1.0, 30.0])
def test_jitter_spreads_waiters(interval):
    later = [list(islice(poll_delays(interval), 6))[-1] for _ in range(20)]
    assert len(set(later)) > 1


def test_max_poll_interval_caps_the_delays_and_the_first_look(monkeypatch):
    from airflow_batchstream.polling import MAX_POLL_INTERVAL_ENV, effective_poll_interval

    monkeypatch.setenv(MAX_POLL_INTERVAL_ENV, "0.1")
    assert effective_poll_interval(10.0) == 0.1
    assert effective_poll_interval(0.05) == 0.05
    assert max(islice(poll_delays(10.0), 6)) <= 0.1 * (1 + JITTER)
    monkeypatch.setenv(MAX_POLL_INTERVAL_ENV, "soon")
    with pytest.raises(ValueError, match="BATCHSTREAM_MAX_POLL_INTERVAL='soon' is not a number"):
        effective_poll_interval(10.0)
    monkeypatch.delenv(MAX_POLL_INTERVAL_ENV)
    assert effective_poll_interval(10.0) == 10.0
