"""The retry bound of one call: the policy's own, or less when the caller's wait ends sooner."""

from __future__ import annotations

from airflow_batchstream.retry import retry_bound


def test_retry_bound_never_outlives_the_callers_deadline():
    assert retry_bound(120.0) == 120.0
    assert retry_bound(120.0, 5.0) == 5.0
    assert retry_bound(120.0, -3.0) == 0.0
    assert retry_bound(10.0, 50.0) == 10.0
