"""The AIP-160 filter subset of ListJobs and ListTasks.

Grammar (https://google.aip.dev/160), parsed with pyparsing::

    filter     := sequence of terms; whitespace or AND joins them, OR binds tighter than AND
    term       := [NOT | -] (comparison | "(" filter ")")
    comparison := FIELD OP VALUE        OP: = != < > <= >= :   VALUE: "quoted" or bare

Fields: ListJobs knows ``name``, ``uid``, ``labels.KEY``, ``status.state``, ``create_time`` and
``update_time``; ListTasks knows ``name`` and ``status.state``. Strings compare as text; ``=`` and
``:`` (has) accept ``*`` wildcards (``name:projects/P/locations/L/jobs/batch*``); ``labels:KEY``
and ``labels.KEY:*`` ask whether a label is set. ``status.state`` takes ``=`` or ``!=`` and a state
name; times take RFC 3339 values and every operator but ``:``. Anything else is refused with a
message naming the term, so a client learns at once that the emulator cannot answer it instead of
silently receiving an unfiltered list.
"""

from __future__ import annotations

import functools
import operator
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import pyparsing as pp

from airflow_batchstream.emulator.logs import LogFilterError, parse_timestamp

#: Field name → kind, for ListJobs and ListTasks.
JOB_FIELDS: Mapping[str, str] = {
    "name": "string",
    "uid": "string",
    "labels": "map",
    "status.state": "state",
    "create_time": "time",
    "update_time": "time",
}
TASK_FIELDS: Mapping[str, str] = {"name": "string", "status.state": "state"}

_ORDER: dict[str, Callable[[Any, Any], bool]] = {
    "<": operator.lt,
    ">": operator.gt,
    "<=": operator.le,
    ">=": operator.ge,
}

Predicate = Callable[["Subject"], bool]


class FilterError(ValueError):
    """A filter expression outside the supported subset."""


@dataclass(frozen=True)
class Subject:
    """What a filter looks at in a job or a task.

    :param name: the full resource name.
    :param uid: the job's uid (empty for a task).
    :param labels: the job's labels (empty for a task).
    :param state: the state's enum number.
    :param create_time: epoch seconds.
    :param update_time: epoch seconds.
    """

    name: str
    uid: str = ""
    labels: Mapping[str, str] = field(default_factory=dict)
    state: int = 0
    create_time: float = 0.0
    update_time: float = 0.0


@dataclass(frozen=True)
class _Comparison:
    field: str
    op: str
    value: str

    @property
    def text(self) -> str:
        return f"{self.field}{self.op}{self.value}"


def _grammar() -> pp.ParserElement:
    and_, or_, not_ = pp.Keyword("AND"), pp.Keyword("OR"), pp.Keyword("NOT")
    name = pp.Regex(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z0-9_\-]*)*")
    value = pp.QuotedString('"', esc_char="\\") | (~(and_ | or_ | not_) + pp.Regex(r'[^\s()"]+'))
    comparison = (name + pp.Regex(r"<=|>=|!=|=|<|>|:") + value).set_parse_action(
        lambda tokens: _Comparison(tokens[0], tokens[1], tokens[2])
    )
    return pp.infix_notation(
        comparison,
        [
            (not_ | pp.Literal("-"), 1, pp.OpAssoc.RIGHT),
            (or_, 2, pp.OpAssoc.LEFT),
            (pp.Optional(and_), 2, pp.OpAssoc.LEFT),
        ],
    )


_GRAMMAR = _grammar()


@functools.lru_cache(maxsize=256)
def _parse(text: str) -> Any:
    try:
        return _GRAMMAR.parse_string(text, parse_all=True)[0]
    except pp.ParseException as exc:
        rest = text[exc.loc :].strip() or text.strip()
        raise FilterError(
            f"cannot parse the filter at {rest[:40]!r}; write FIELD OP VALUE terms (OP: = != < > <= >= :) "
            "joined by AND, OR, NOT or -, with parentheses (AIP-160)"
        ) from None


def compile_filter(text: str, fields: Mapping[str, str], states: Mapping[str, int]) -> Predicate:
    """A predicate for a filter, or :class:`FilterError` naming the first term it cannot answer.

    :param text: the filter as sent; empty matches everything.
    :param fields: the fields this list knows (:data:`JOB_FIELDS` or :data:`TASK_FIELDS`).
    :param states: state names accepted by ``status.state``.
    """
    if not text.strip():
        return lambda subject: True
    return _compile(_parse(text), fields, states)


def _compile(node: Any, fields: Mapping[str, str], states: Mapping[str, int]) -> Predicate:
    if isinstance(node, _Comparison):
        return _comparison(node, fields, states)
    items = list(node)
    if items[0] in ("NOT", "-"):
        inner = _compile(items[1], fields, states)
        return lambda subject: not inner(subject)
    operands = [_compile(item, fields, states) for item in items if not isinstance(item, str)]
    if "OR" in items:
        return lambda subject: any(p(subject) for p in operands)
    return lambda subject: all(p(subject) for p in operands)


def _wildcard(pattern: str) -> Callable[[str], bool]:
    if "*" not in pattern:
        return lambda text: text == pattern
    regex = re.compile(".*".join(re.escape(part) for part in pattern.split("*")), re.DOTALL)
    return lambda text: regex.fullmatch(text) is not None


def _comparison(term: _Comparison, fields: Mapping[str, str], states: Mapping[str, int]) -> Predicate:
    key, op, value = term.field, term.op, term.value
    if key == "labels" and "labels" in fields and op == ":":
        present = _wildcard(value)
        return lambda subject: any(present(k) for k in subject.labels)
    if key.startswith("labels.") and "labels" in fields:
        label = key[len("labels.") :]
        if not label:
            raise FilterError(f'filter term {term.text!r}: name the label, e.g. labels.team="red"')
        return _string(term, lambda subject: subject.labels.get(label))
    kind = fields.get(key)
    if kind == "string":
        return _string(term, operator.attrgetter(key))
    if kind == "state":
        if op not in ("=", "!="):
            raise FilterError(f"filter term {term.text!r}: status.state takes = or !=")
        if value not in states:
            known = ", ".join(states)
            raise FilterError(f"filter term {term.text!r}: unknown state {value!r}; use one of {known}")
        number = states[value]
        return (lambda s: s.state == number) if op == "=" else (lambda s: s.state != number)
    if kind == "time":
        if op == ":":
            raise FilterError(f"filter term {term.text!r}: {key} takes = != < > <= >=")
        try:
            bound = parse_timestamp(value)
        except LogFilterError:
            raise FilterError(
                f'filter term {term.text!r}: {value!r} is not an RFC 3339 time, e.g. "2026-01-01T00:00:00Z"'
            ) from None
        get = operator.attrgetter(key)
        compare = _ORDER.get(op) or (operator.eq if op == "=" else operator.ne)
        return lambda subject: compare(get(subject), bound)
    known = ", ".join("labels.KEY" if f == "labels" else f for f in fields)
    raise FilterError(f"filter term {term.text!r}: unsupported field {key!r}; filter on {known}")


def _string(term: _Comparison, get: Callable[[Subject], str | None]) -> Predicate:
    op, value = term.op, term.value
    if op in ("=", ":"):
        match = _wildcard(value)
        return lambda subject: (found := get(subject)) is not None and match(found)
    if op == "!=":
        same = _wildcard(value)
        return lambda subject: (found := get(subject)) is None or not same(found)
    compare = _ORDER[op]
    return lambda subject: (found := get(subject)) is not None and compare(found, value)
