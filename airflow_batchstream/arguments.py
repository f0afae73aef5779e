"""Argument checks that run before any network call: every problem at once, as :class:`Violation`.

Operators, sensors and the hooks' public methods check their arguments through one
:class:`ArgumentCheck`. Each of its methods checks one argument, records what is wrong as a
``Violation`` (path: the argument's name, such as ``labels["Team Name!"]``; a rule id; the
message; the fix) and returns the value normalised (a numeric string rendered without native
templating becomes a number), so that :meth:`ArgumentCheck.raise_if_any` reports every problem in
one :class:`ArgumentError`. Values of ``environment`` are never shown. Identifiers are matched with
``re.fullmatch`` (``$`` would accept a trailing newline).

Sources: the job id rule of ``CreateJobRequest.job_id`` (google-cloud-batch); project ids
("Creating and managing projects": 6-30 lowercase letters, digits and hyphens, a letter first, no
final hyphen; older ones may carry a ``domain:`` prefix); labels ("Organize resources using labels"
in the Batch and Compute Engine docs: keys 1-63 characters, a lowercase letter first, then
lowercase letters, digits, ``_`` and ``-``; values up to 63 of the same; international lowercase
letters allowed; at most 63 custom labels on a job; Batch's own ``batch-*`` labels cannot be set).
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Collection, Mapping
from typing import Any

from airflow_batchstream.validation.violations import ArgumentError, Violation

REGION_PATTERN = re.compile(r"[a-z]+-[a-z]+[0-9]+")
PROJECT_ID_PATTERN = re.compile(r"([a-z0-9.-]+:)?[a-z][a-z0-9-]{4,28}[a-z0-9]")
PROJECT_NUMBER_PATTERN = re.compile(r"[1-9][0-9]{0,19}")
#: Batch job ids (and task group ids): a lowercase letter, then lowercase letters, digits and
#: hyphens, 63 at most, no final hyphen.
JOB_ID_PATTERN = re.compile(r"[a-z]([a-z0-9-]{0,61}[a-z0-9])?")
JOB_NAME_PATTERN = re.compile(
    r"projects/(?P<project>[^/]+)/locations/(?P<region>[^/]+)/jobs/(?P<job_id>[^/]+)"
)
MAX_LABELS = 63
MAX_LABEL_LENGTH = 63
#: Label key prefix of Batch's predefined labels (``batch-job-id``, ...), which a job cannot set.
BATCH_LABEL_PREFIX = "batch-"
_INT_TEXT = re.compile(r"[+-]?[0-9]+")
_NUMBER_TEXT = re.compile(r"[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?")

#: Rule ids only argument checks report, with the fix (label, region and job id problems use the
#: validation rules of the same names).
ARGUMENT_RULES: dict[str, str] = {
    "bad-argument": "Give the argument the type and form the message names.",
    "bad-project-id": "Give the project's id (6-30 lowercase letters, digits and '-', a letter first) "
    "or its number.",
    "bad-job-name": "Give the job's full name: projects/PROJECT/locations/REGION/jobs/JOB_ID.",
}


def kind(value: Any) -> str:
    """
    Return a reader's word for a value's type: ``string``, ``list``, ``object`` (a mapping), ``number``, ...

    :param value: any value.
    """
    if value is None:
        return "None"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, str):
        return "string"
    if isinstance(value, Mapping):
        return "object"
    if isinstance(value, (list, tuple)):
        return "list"
    if isinstance(value, (int, float)):
        return "number"
    return type(value).__name__


def shown(value: Any, *, secret: bool = False) -> str:
    """
    Return a value as a message shows it: its kind and, unless ``secret``, a short JSON excerpt.

    :param value: the value.
    :param secret: show only the kind (environment values, passwords).
    """
    if secret or value is None:
        return f"a {kind(value)}" + (" (value hidden)" if secret and value is not None else "")
    text = json.dumps(value, default=str)
    return f"{kind(value)} {text if len(text) <= 60 else text[:57] + '...'}"


def region_problems(value: Any, path: str = "region") -> list[Violation]:
    """
    Check that a value is a Batch region, such as ``us-central1``.

    :param value: the region.
    :param path: the argument or field it came from.
    """
    if isinstance(value, str) and REGION_PATTERN.fullmatch(value):
        return []
    return [
        Violation(
            path,
            "bad-region",
            f"{shown(value)} is not a Batch region",
            "give a region such as us-central1 (not a zone such as us-central1-a, not a multi-region)",
        )
    ]


def job_id_problems(value: Any, path: str = "job_id") -> list[Violation]:
    """
    Check a job id against the Batch rule.

    :param value: the id.
    :param path: the argument or field it came from.
    """
    if isinstance(value, str) and JOB_ID_PATTERN.fullmatch(value):
        return []
    return [
        Violation(
            path,
            "bad-job-id",
            f"{shown(value)} is not a valid Batch job id",
            "use 1-63 lowercase letters, digits and '-', starting with a letter and not ending with '-'",
        )
    ]


def project_id_problems(value: Any, path: str = "project_id") -> list[Violation]:
    """
    Check a Google Cloud project id (or project number).

    :param value: the project.
    :param path: the argument or field it came from.
    """
    if isinstance(value, str) and (
        PROJECT_ID_PATTERN.fullmatch(value) or PROJECT_NUMBER_PATTERN.fullmatch(value)
    ):
        return []
    return [
        Violation(
            path,
            "bad-project-id",
            f"{shown(value)} is not a Google Cloud project id",
            "give the project's id, such as my-project (6-30 lowercase letters, digits and '-', a letter "
            "first), or its number",
        )
    ]


def job_name_problems(value: Any, path: str = "job_name") -> list[Violation]:
    """
    Check a job's full resource name, ``projects/PROJECT/locations/REGION/jobs/JOB_ID``.

    :param value: the name.
    :param path: the argument it came from.
    """
    match = JOB_NAME_PATTERN.fullmatch(value) if isinstance(value, str) else None
    if match is None:
        return [
            Violation(
                path,
                "bad-job-name",
                f"{shown(value)} is not a Batch job name",
                "give projects/PROJECT/locations/REGION/jobs/JOB_ID, such as an upstream summary's job_name",
            )
        ]
    return (
        project_id_problems(match["project"], f"{path} (project)")
        + region_problems(match["region"], f"{path} (region)")
        + job_id_problems(match["job_id"], f"{path} (job id)")
    )


def _label_text_ok(text: str, *, key: bool) -> bool:
    if len(text) > MAX_LABEL_LENGTH or (key and not (text[:1].isalpha() and text[:1].islower())):
        return False
    return all((c.isalnum() and not c.isupper()) or c in "_-" for c in text)


def label_problems(
    labels: Any,
    path: str = "labels",
    *,
    reserved: Collection[str] = (),
    room: int = MAX_LABELS,
    selector: bool = False,
) -> list[Violation]:
    """
    Check labels against the Batch label rules; every problem at once.

    :param labels: the labels, a mapping of key to value.
    :param path: the argument or field they came from.
    :param reserved: further keys that may not be set here (``batch-*`` ones never may, unless ``selector``).
    :param room: how many labels may be given here (63, less the ones set elsewhere).
    :param selector: the labels select jobs (a sensor) rather than being set: ``batch-*`` keys are fine.
    """
    if not isinstance(labels, Mapping):
        return [
            Violation(
                path,
                "bad-argument",
                f"expected a mapping of label keys to values, got {shown(labels)}",
                'write it as {"team": "data"}',
            )
        ]
    out = []
    for key, value in labels.items():
        here = f"{path}[{json.dumps(str(key))}]"
        if not (isinstance(key, str) and key and _label_text_ok(key, key=True)):
            out.append(
                Violation(
                    here,
                    "bad-label",
                    f"label key {shown(key)} breaks the label rule",
                    "keys are 1-63 lowercase letters, digits, '_' and '-', starting with a lowercase letter",
                )
            )
        elif not selector and (key.startswith(BATCH_LABEL_PREFIX) or key in reserved):
            owner = (
                "Batch's own (predefined)" if key.startswith(BATCH_LABEL_PREFIX) else "set by the operator"
            )
            out.append(
                Violation(here, "reserved-label", f"label {key!r} is {owner} and cannot be set", "remove it")
            )
        if not (isinstance(value, str) and _label_text_ok(value, key=False)):
            out.append(
                Violation(
                    here,
                    "bad-label",
                    f"label value {shown(value)} breaks the label rule",
                    "values are strings of up to 63 lowercase letters, digits, '_' and '-'",
                )
            )
    if not selector and len(labels) > room:
        out.append(
            Violation(
                path,
                "too-many-labels",
                f"{len(labels)} labels given; at most {room} fit here "
                f"(a Batch job carries at most {MAX_LABELS} custom labels, the operator's own included)",
                "merge or drop labels",
            )
        )
    return out


class ArgumentCheck:
    """
    Collect the problems of a task's or a call's arguments, then raise them all at once.

    Each method checks one argument and returns it normalised (``None`` when it is missing or wrong).
    """

    def __init__(self) -> None:
        self.violations: list[Violation] = []

    def _refuse(self, name: str, message: str, hint: str = "", rule: str = "bad-argument") -> None:
        self.violations.append(Violation(name, rule, message, hint))

    def add(self, problems: list[Violation]) -> bool:
        """
        Record problems found elsewhere; return whether there were none.

        :param problems: violations to record.
        """
        self.violations += problems
        return not problems

    def text(self, name: str, value: Any, *, required: bool = False) -> str | None:
        """
        Check a string argument (``None`` allowed unless ``required``).

        :param name: the argument's name.
        :param value: its value.
        :param required: refuse ``None`` and the empty string.
        """
        if value is None and not required:
            return None
        if not isinstance(value, str) or (required and not value.strip()):
            self._refuse(name, f"expected a non-empty string, got {shown(value)}")
            return None
        return value

    def region(self, name: str, value: Any, *, required: bool = True) -> str | None:
        """
        Check a Batch region.

        :param name: the argument's name.
        :param value: its value.
        :param required: refuse ``None``.
        """
        if value is None and not required:
            return None
        return value if self.add(region_problems(value, name)) else None

    def project_id(self, name: str, value: Any) -> str | None:
        """
        Check an optional project id (``None``: the connection's project).

        :param name: the argument's name.
        :param value: its value.
        """
        if value is None:
            return None
        return value if self.add(project_id_problems(value, name)) else None

    def job_id(self, name: str, value: Any) -> str | None:
        """
        Check an optional Batch job id.

        :param name: the argument's name.
        :param value: its value.
        """
        if value is None:
            return None
        return value if self.add(job_id_problems(value, name)) else None

    def job_name(self, name: str, value: Any, *, required: bool = True) -> str | None:
        """
        Check a job's full resource name.

        :param name: the argument's name.
        :param value: its value.
        :param required: refuse ``None``.
        """
        if value is None and not required:
            return None
        return value if self.add(job_name_problems(value, name)) else None

    def task_group(self, name: str, value: Any) -> str | None:
        """
        Check a task group id (Batch names the one group of a job ``group0``).

        :param name: the argument's name.
        :param value: its value.
        """
        if isinstance(value, str) and JOB_ID_PATTERN.fullmatch(value):
            return value
        self._refuse(name, f"{shown(value)} is not a task group id", 'give the group\'s id, such as "group0"')
        return None

    def request_id(self, name: str, value: Any) -> str | None:
        """
        Check an optional CreateJob ``request_id``: a UUID other than the zero UUID.

        :param name: the argument's name.
        :param value: its value.
        """
        if value is None:
            return None
        try:
            valid = isinstance(value, str) and uuid.UUID(value).int != 0
        except ValueError:
            valid = False
        if not valid:
            self._refuse(
                name, f"{shown(value)} is not a non-zero UUID", "give str(uuid.uuid4()), or leave it out"
            )
            return None
        return str(value)

    def strings(self, name: str, value: Any, *, example: str = '["a", "b"]') -> list[str] | None:
        """
        Check an optional list of strings; a single string is refused (it is not a list of its characters).

        :param name: the argument's name.
        :param value: its value.
        :param example: the form to suggest.
        """
        if value is None:
            return None
        if isinstance(value, (str, bytes)):
            self._refuse(
                name,
                f"expected a list of strings, got {shown(value)} (a string would be split into characters)",
                f"write it as a list, e.g. {json.dumps([value] if isinstance(value, str) else [])[:80]}",
            )
            return None
        if isinstance(value, Mapping) or not isinstance(value, (list, tuple)):
            self._refuse(name, f"expected a list of strings, got {shown(value)}", f"write it as {example}")
            return None
        bad = [i for i, item in enumerate(value) if not isinstance(item, str)]
        for index in bad:
            self._refuse(f"{name}[{index}]", f"expected a string, got {shown(value[index])}", "quote it")
        return None if bad else list(value)

    def environment(self, name: str, value: Any) -> dict[str, str] | None:
        """
        Check an optional mapping of environment variable names to string values; never shows a value.

        :param name: the argument's name.
        :param value: its value.
        """
        if value is None:
            return None
        if not isinstance(value, Mapping):
            self._refuse(
                name,
                f"expected a mapping of variable names to values, got {shown(value, secret=True)}",
                'write it as {"NAME": "value"}',
            )
            return None
        ok = True
        for key, item in value.items():
            here = f"{name}[{json.dumps(str(key))}]"
            if not (isinstance(key, str) and re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", key)):
                ok = False
                self._refuse(here, "expected a variable name (letters, digits and '_', not a digit first)")
            if not isinstance(item, str):
                ok = False
                self._refuse(
                    here, f"expected a string value, got {shown(item, secret=True)}", "quote the value"
                )
        return dict(value) if ok else None

    def labels(
        self, name: str, value: Any, *, reserved: Collection[str] = (), selector: bool = False
    ) -> dict[str, str] | None:
        """
        Check optional labels against the Batch label rules.

        :param name: the argument's name.
        :param value: its value.
        :param reserved: keys set by the caller itself, which the user may not set.
        :param selector: the labels select jobs instead of being set on one.
        """
        if value is None:
            return None
        room = MAX_LABELS - len(reserved)
        problems = label_problems(value, name, reserved=reserved, room=room, selector=selector)
        return dict(value) if self.add(problems) else None

    def integer(self, name: str, value: Any, *, minimum: int, required: bool = True) -> int | None:
        """
        Check a whole number of at least ``minimum``; a numeric string (rendered without native types) counts.

        :param name: the argument's name.
        :param value: its value.
        :param minimum: the least value allowed.
        :param required: refuse ``None``.
        """
        if value is None and not required:
            return None
        number: Any = value
        whole_text = isinstance(value, str) and _INT_TEXT.fullmatch(value.strip())
        if whole_text or (isinstance(value, float) and value.is_integer()):
            number = int(value)
        if isinstance(number, bool) or not isinstance(number, int):
            self._refuse(
                name,
                f"expected a whole number, got {shown(value)}",
                f"give a number such as {max(minimum, 1)}",
            )
            return None
        if number < minimum:
            self._refuse(name, f"must be {minimum} or more, got {number}")
            return None
        return number

    def number(self, name: str, value: Any, *, required: bool = True, zero: bool = False) -> float | None:
        """
        Check a positive number of seconds; a numeric string is accepted.

        :param name: the argument's name.
        :param value: its value.
        :param required: refuse ``None``.
        :param zero: allow 0.
        """
        if value is None and not required:
            return None
        number: Any = value
        if isinstance(value, str) and _NUMBER_TEXT.fullmatch(value.strip()):
            number = float(value)
        if isinstance(number, bool) or not isinstance(number, (int, float)) or number != number:
            self._refuse(
                name, f"expected a number of seconds, got {shown(value)}", "give a number such as 60"
            )
            return None
        if number < 0 or (number == 0 and not zero):
            self._refuse(name, f"must be {'0 or more' if zero else 'positive'}, got {number}")
            return None
        return number

    def choice(self, name: str, value: Any, choices: Collection[Any]) -> Any:
        """
        Check that a value is one of ``choices``.

        :param name: the argument's name.
        :param value: its value.
        :param choices: the values allowed.
        """
        if isinstance(value, (str, int, float, bool)) and value in choices:
            return value
        self._refuse(name, f"got {shown(value)}", f"use one of {', '.join(map(repr, choices))}")
        return None

    def flag(self, name: str, value: Any, *, optional: bool = False) -> bool | None:
        """
        Check a boolean (or ``None`` when ``optional``).

        :param name: the argument's name.
        :param value: its value.
        :param optional: allow ``None``.
        """
        if isinstance(value, bool) or (value is None and optional):
            return value
        self._refuse(name, f"expected True or False, got {shown(value)}")
        return None

    def accounts(self, name: str, value: Any) -> str | list[str] | None:
        """
        Check an impersonation chain: a service account, or a list of them (``None``: none).

        :param name: the argument's name.
        :param value: its value.
        """
        if value is None or (isinstance(value, str) and "@" in value):
            return value
        if isinstance(value, (list, tuple)) and value and all(isinstance(a, str) and "@" in a for a in value):
            return list(value)
        self._refuse(
            name,
            f"expected a service account email or a list of them, got {shown(value)}",
            'write it as "sa@my-project.iam.gserviceaccount.com" or a list of such',
        )
        return None

    def states(self, name: str, value: Any, known: Collection[str]) -> frozenset[str] | None:
        """
        Check a non-empty collection of state names (a lone string is refused).

        :param name: the argument's name.
        :param value: its value.
        :param known: every valid state name.
        """
        if isinstance(value, (str, bytes, Mapping)) or not isinstance(value, Collection) or not value:
            self._refuse(
                name,
                f"expected a non-empty list or set of job states, got {shown(value)}",
                'write it as {"SUCCEEDED"}',
            )
            return None
        unknown = sorted(str(state) for state in value if state not in known)
        if unknown:
            self._refuse(name, f"unknown state(s) {', '.join(unknown)}", f"use {', '.join(sorted(known))}")
            return None
        return frozenset(value)

    def raise_if_any(self, owner: str) -> None:
        """
        Raise :class:`ArgumentError` with every problem recorded, if any.

        :param owner: who was called: a task id, or a hook method's name.
        """
        if self.violations:
            raise ArgumentError(owner, self.violations)
