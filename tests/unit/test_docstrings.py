"""Docstrings and signatures agree, and the README's argument table lists every operator argument."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import pytest

from airflow_batchstream.hooks.batch import BatchStreamAsyncHook, BatchStreamHook
from airflow_batchstream.links.batch import BatchStreamJobLink, BatchStreamJobLogsLink
from airflow_batchstream.operators.batch import BatchStreamSubmitJobOperator
from airflow_batchstream.operators.lifecycle import BatchStreamCancelJobOperator, BatchStreamDeleteJobOperator
from airflow_batchstream.operators.listing import BatchStreamListJobsOperator, BatchStreamListTasksOperator
from airflow_batchstream.sensors.batch import BatchStreamJobSensor
from airflow_batchstream.triggers.batch import BatchStreamJobTrigger

README = Path(__file__).resolve().parents[2] / "README.md"
OPERATORS = [
    BatchStreamSubmitJobOperator,
    BatchStreamCancelJobOperator,
    BatchStreamDeleteJobOperator,
    BatchStreamListJobsOperator,
    BatchStreamListTasksOperator,
]
PUBLIC_CLASSES = [
    *OPERATORS,
    BatchStreamJobSensor,
    BatchStreamJobTrigger,
    BatchStreamHook,
    BatchStreamAsyncHook,
    BatchStreamJobLink,
    BatchStreamJobLogsLink,
]


def _arguments(cls: type) -> set[str]:
    parameters = inspect.signature(cls.__init__).parameters.values()
    return {
        p.name for p in parameters if p.name != "self" and p.kind not in (p.VAR_KEYWORD, p.VAR_POSITIONAL)
    }


@pytest.mark.parametrize("cls", PUBLIC_CLASSES, ids=lambda cls: cls.__name__)
def test_every_constructor_argument_has_a_param_line_and_no_other(cls):
    documented = set(re.findall(r":param (\w+):", cls.__doc__ or ""))
    assert documented == _arguments(cls)


@pytest.mark.parametrize("operator", OPERATORS, ids=lambda cls: cls.__name__)
def test_readme_table_lists_every_operator_argument(operator):
    text = README.read_text()
    heading = f"### `{operator.__name__}` arguments"
    assert heading in text, f"the README has no section {heading!r}"
    section = text.split(heading, 1)[1].split("\n#", 1)[0]
    in_table = set(re.findall(r"^\| `(\w+)` \|", section, flags=re.MULTILINE))
    assert in_table == _arguments(operator)
