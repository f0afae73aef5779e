"""The ListJobs / ListTasks filter subset the emulator understands.

Supported grammar (terms joined by `` AND ``, case-sensitive keyword)::

    labels.KEY="VALUE"     labels.KEY=VALUE
    status.state="RUNNING" status.state=RUNNING
    name="projects/P/locations/L/jobs/ID"

Anything else is refused, so a client learns at once that the emulator cannot answer it
instead of silently receiving an unfiltered list.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass

_TERM = re.compile(r'^\s*(?P<key>[A-Za-z0-9_.\-]+)\s*=\s*(?P<value>"(?:[^"\\]|\\.)*"|[^\s"]+)\s*$')

SUPPORTED_FILTERS = 'labels.KEY="VALUE", status.state="STATE", name="NAME", joined with AND'


class FilterError(ValueError):
    """A filter expression outside the supported subset."""


@dataclass(frozen=True)
class Term:
    """One ``key=value`` comparison of a filter.

    :param key: the field path, e.g. ``labels.team`` or ``status.state``.
    :param value: the value to compare with, quotes removed.
    """

    key: str
    value: str


def parse_filter(text: str, *, allowed_states: Mapping[str, int], allow_labels: bool = True) -> list[Term]:
    """Parse a filter expression into terms, refusing anything outside the subset.

    :param text: the filter as sent by the client; empty means no filter.
    :param allowed_states: state names accepted for ``status.state``.
    :param allow_labels: whether ``labels.KEY`` and ``name`` terms are accepted (jobs: yes, tasks: no).
    :raises FilterError: with a message naming the offending term and the supported subset.
    """
    text = text.strip()
    if not text:
        return []
    terms: list[Term] = []
    for raw in re.split(r"\s+AND\s+", text):
        match = _TERM.match(raw)
        if match is None:
            raise FilterError(
                f"unsupported filter term {raw.strip()!r}; the emulator supports {SUPPORTED_FILTERS}"
            )
        key, value = match.group("key"), match.group("value")
        if value.startswith('"'):
            value = re.sub(r"\\(.)", r"\1", value[1:-1])
        if key == "status.state":
            if value not in allowed_states:
                raise FilterError(
                    f"unknown state {value!r} in filter; expected one of {', '.join(allowed_states)}"
                )
        elif not allow_labels or not (
            key == "name" or (key.startswith("labels.") and len(key) > len("labels."))
        ):
            raise FilterError(f"unsupported filter field {key!r}; the emulator supports {SUPPORTED_FILTERS}")
        terms.append(Term(key, value))
    return terms


def matcher(
    terms: list[Term], *, state_names: Mapping[str, int]
) -> Callable[[str, Mapping[str, str], int], bool]:
    """Build a predicate ``(name, labels, state) -> bool`` for parsed terms.

    :param terms: the parsed filter terms (all must hold).
    :param state_names: mapping from state name to its enum number.
    """

    def match(name: str, labels: Mapping[str, str], state: int) -> bool:
        for term in terms:
            if term.key == "status.state":
                if state != state_names[term.value]:
                    return False
            elif term.key == "name":
                if name != term.value:
                    return False
            elif labels.get(term.key[len("labels.") :]) != term.value:
                return False
        return True

    return match
