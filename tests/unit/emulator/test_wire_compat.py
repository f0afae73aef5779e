"""The emulator stores v1alpha messages and serves the same bytes to v1: check that is sound."""

from __future__ import annotations

from typing import Any

import pytest
from google.cloud import batch_v1, batch_v1alpha

from airflow_batchstream.validation.structure import is_repeated

SERVED = [
    "Job",
    "Task",
    "CreateJobRequest",
    "GetJobRequest",
    "ListJobsRequest",
    "ListJobsResponse",
    "DeleteJobRequest",
    "CancelJobRequest",
    "CancelJobResponse",
    "ListTasksRequest",
    "ListTasksResponse",
    "GetTaskRequest",
    "OperationMetadata",
]


def _mismatches(v1: Any, alpha: Any, path: str, seen: set[str]) -> list[str]:
    if v1.full_name in seen:
        return []
    seen.add(v1.full_name)
    by_number = {f.number: f for f in alpha.fields}
    problems = []
    for field in v1.fields:
        other = by_number.get(field.number)
        if other is None or (other.name, other.type, is_repeated(other)) != (
            field.name,
            field.type,
            is_repeated(field),
        ):
            problems.append(f"{path}.{field.name}")
            continue
        if field.message_type is not None:
            problems += _mismatches(field.message_type, other.message_type, f"{path}.{field.name}", seen)
    return problems


@pytest.mark.parametrize("name", SERVED)
def test_v1_is_a_wire_subset_of_v1alpha(name: str) -> None:
    v1 = getattr(batch_v1, name).pb().DESCRIPTOR
    alpha = getattr(batch_v1alpha, name).pb().DESCRIPTOR
    assert _mismatches(v1, alpha, name, set()) == []
