from __future__ import annotations

import time

import pytest

from airflow_batchstream.deferral import RESUME_HOLD_ENV, RESUME_HOLD_SECONDS, resume_hold, resume_not_before


def test_the_hold_is_the_measured_one_unless_the_environment_sets_another(monkeypatch):
    monkeypatch.delenv(RESUME_HOLD_ENV, raising=False)
    assert resume_hold() == RESUME_HOLD_SECONDS
    monkeypatch.setenv(RESUME_HOLD_ENV, "2.5")
    assert resume_hold() == 2.5


def test_not_before_is_the_hold_from_now_and_none_without_a_hold(monkeypatch):
    before = time.time()
    not_before = resume_not_before(3.0)
    assert not_before is not None
    assert before + 3.0 <= not_before <= time.time() + 3.0
    monkeypatch.setenv(RESUME_HOLD_ENV, "0")
    assert resume_not_before() is None


@pytest.mark.parametrize(("value", "problem"), [("soon", "not a number"), ("-1", "negative")])
def test_a_bad_hold_is_refused_naming_the_variable(monkeypatch, value, problem):
    monkeypatch.setenv(RESUME_HOLD_ENV, value)
    with pytest.raises(ValueError, match=f"{RESUME_HOLD_ENV}='{value}' is {problem}"):
        resume_hold()
