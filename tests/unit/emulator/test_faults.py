"""The fault injector's decisions, without a server."""

from __future__ import annotations

import grpc
import pytest

from airflow_batchstream.emulator.faults import FaultInjector


def test_scripted_faults_come_first_and_run_out() -> None:
    faults = FaultInjector()
    faults.fail_next("CreateJob", "INTERNAL", times=2, after_commit=True)
    decided = [faults.decide("CreateJob") for _ in range(3)]
    assert [(f.code, f.after_commit) if f else None for f in decided] == [
        (grpc.StatusCode.INTERNAL, True),
        (grpc.StatusCode.INTERNAL, True),
        None,
    ]
    assert faults.decide("GetJob") is None
    assert faults.injected() == {"CreateJob": 2}


def test_rate_zero_and_one_and_method_selection() -> None:
    faults = FaultInjector()
    faults.set_faults(rate=1.0, codes=["UNAVAILABLE"], methods=["GetJob"], seed=1)
    assert all(faults.decide("GetJob") is not None for _ in range(50))
    assert all(faults.decide("ListJobs") is None for _ in range(50))
    faults.set_faults(rate=0.0)
    assert all(faults.decide("GetJob") is None for _ in range(50))


def test_after_commit_only_for_mutations() -> None:
    faults = FaultInjector()
    faults.set_faults(rate=1.0, seed=2, fault_after_commit=1.0)
    assert faults.decide("CreateJob").after_commit  # type: ignore[union-attr]
    assert not faults.decide("GetJob").after_commit  # type: ignore[union-attr]


def test_clear_and_bounds() -> None:
    faults = FaultInjector()
    faults.set_latency(100)
    faults.fail_next("GetJob")
    faults.clear()
    assert faults.latency_seconds == 0 and faults.decide("GetJob") is None
    with pytest.raises(ValueError, match="times"):
        faults.fail_next("GetJob", times=0)
    with pytest.raises(ValueError, match="OK"):
        faults.fail_next("GetJob", code="OK")
