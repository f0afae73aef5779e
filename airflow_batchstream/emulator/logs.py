"""Task output as Cloud Logging entries, and the ``ListLogEntries`` filter subset.

Like the real service, a job writes entries only when its ``logs_policy.destination`` is
``CLOUD_LOGGING`` (the API default writes none). Each output line becomes one entry in
``projects/P/logs/batch_task_logs``:

* ``labels``: ``job_uid`` (the filter Google's samples use, ``labels.job_uid="UID"``),
  ``task_id`` (``task/UID-group0-INDEX/ATTEMPT/0``), ``hostname``, plus the job's own labels
  (the Job resource docs: labels apply "to the job and any Cloud Logging LogEntry that it
  generates").
* ``resource``: ``generic_task`` with ``project_id``, ``location``, ``namespace``, ``job``,
  ``task_id`` (the documented labels of that monitored-resource type; which values the real
  service puts there is not documented, so treat them as indicative).
* ``severity``: ``INFO`` for stdout, ``ERROR`` for stderr; ``text_payload``: the line.

Supported filter terms, joined by ``AND`` or by whitespace (implicit AND)::

    logName="projects/P/logs/batch_task_logs"   logName=projects/P/logs/batch_task_logs
    log_id("batch_task_logs")
    labels.KEY="VALUE"        resource.type="generic_task"   resource.labels.KEY="VALUE"
    timestamp>="2026-01-01T00:00:00Z"   (also >, <, <=, =)
    severity>=ERROR           (also >, <, <=, =)
    textPayload:"substring"   textPayload="exact line"      "bare text" (substring of the line)

``OR``, ``NOT``, ``-``, parentheses and other fields are refused with INVALID_ARGUMENT.
``order_by`` is ``timestamp asc`` (default) or ``timestamp desc``.
"""

from __future__ import annotations

import calendar
import re
import threading
from bisect import insort
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from google.cloud.logging_v2.types import LogEntry as _LogEntryMessage

LogEntryPb: Any = _LogEntryMessage.pb()

LOG_ID = "batch_task_logs"
RESOURCE_TYPE = "generic_task"

SEVERITIES = {
    "DEFAULT": 0,
    "DEBUG": 100,
    "INFO": 200,
    "NOTICE": 300,
    "WARNING": 400,
    "ERROR": 500,
    "CRITICAL": 600,
    "ALERT": 700,
    "EMERGENCY": 800,
}
STREAM_SEVERITY = {"stdout": "INFO", "stderr": "ERROR"}

SUPPORTED_LOG_FILTERS = (
    'logName="projects/P/logs/batch_task_logs", log_id("batch_task_logs"), labels.KEY="V", '
    'resource.type="generic_task", resource.labels.KEY="V", timestamp>="RFC3339", severity>=LEVEL, '
    'textPayload:"text", "text"; joined with AND or spaces'
)


@dataclass(frozen=True)
class LogLine:
    """One line a task wrote, kept so it can later be served as a Cloud Logging entry.

    :param time: when the line was read (epoch seconds).
    :param task_index: the task that wrote it.
    :param attempt: the task's retry attempt (0 for the first run).
    :param stream: ``"stdout"`` or ``"stderr"``.
    :param text: the line without its trailing newline.
    """

    time: float
    task_index: int
    attempt: int
    stream: str
    text: str


class LogFilterError(ValueError):
    """A log filter outside the supported subset."""


@dataclass(frozen=True, order=True)
class LogEntry:
    """One stored log entry.

    :param time: when the line was written (epoch seconds).
    :param seq: a store-wide sequence number (tie breaker and ``insert_id``).
    :param project: the project id.
    :param text: the line.
    :param severity: ``INFO`` or ``ERROR``.
    :param labels: the entry's labels.
    :param resource_labels: the ``generic_task`` resource labels.
    """

    time: float
    seq: int
    project: str = field(compare=False)
    text: str = field(compare=False)
    severity: str = field(compare=False)
    labels: dict[str, str] = field(compare=False)
    resource_labels: dict[str, str] = field(compare=False)

    @property
    def log_name(self) -> str:
        """``projects/P/logs/batch_task_logs``."""
        return f"projects/{self.project}/logs/{LOG_ID}"


class LogStore:
    """Every entry written so far, kept in time order. Entries planned for the future (simulated
    containers) are stored ahead of time and become visible when their time comes."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: list[LogEntry] = []
        self._seq = 0

    def add(
        self,
        time: float,
        project: str,
        text: str,
        stream: str,
        labels: dict[str, str],
        resource_labels: dict[str, str],
    ) -> None:
        """Store one line.

        :param time: when it was written.
        :param project: the project id.
        :param text: the line.
        :param stream: ``"stdout"`` or ``"stderr"``.
        :param labels: the entry labels.
        :param resource_labels: the monitored-resource labels.
        """
        with self._lock:
            self._seq += 1
            entry = LogEntry(
                time,
                self._seq,
                project,
                text,
                STREAM_SEVERITY.get(stream, "DEFAULT"),
                labels,
                resource_labels,
            )
            insort(self._entries, entry)

    def truncate(self, job_uid: str, after: float) -> None:
        """Forget a job's entries planned later than ``after`` (the job was stopped or replanned).

        :param job_uid: the job's uid.
        :param after: entries with a later time are removed.
        """
        with self._lock:
            self._entries = [
                e for e in self._entries if e.time <= after or e.labels.get("job_uid") != job_uid
            ]

    def select(
        self, projects: set[str], predicate: Callable[[LogEntry], bool], now: float, descending: bool
    ) -> list[LogEntry]:
        """The visible entries of some projects that match, in time order.

        :param projects: project ids to search.
        :param predicate: the parsed filter.
        :param now: entries later than this are not written yet.
        :param descending: newest first.
        """
        with self._lock:
            found = [e for e in self._entries if e.time <= now and e.project in projects and predicate(e)]
        if descending:
            found.reverse()
        return found


_TOKEN = re.compile(
    r"""\s*(?:
        (?P<and>AND)(?=[\s"]|$)
      | (?P<bad>OR|NOT)(?=[\s"(]|$)|(?P<badchar>[()\-])
      | log_id\(\s*"(?P<logid>[^"]*)"\s*\)
      | (?P<key>[A-Za-z_][A-Za-z0-9_.]*)\s*(?P<op>>=|<=|!=|=|>|<|:)\s*
        (?P<value>"(?:[^"\\]|\\.)*"|[^\s"()]+)
      | (?P<text>"(?:[^"\\]|\\.)*")
    )""",
    re.VERBOSE,
)
_TIMESTAMP = re.compile(r"^(\d{4})-(\d\d)-(\d\d)[Tt ](\d\d):(\d\d):(\d\d)(\.\d+)?([Zz]|[+-]\d\d:?\d\d)$")
_ORDERED = {">=": lambda a, b: a >= b, ">": lambda a, b: a > b, "<=": lambda a, b: a <= b}
_ORDERED.update({"<": lambda a, b: a < b, "=": lambda a, b: a == b})


def parse_timestamp(text: str) -> float:
    """Epoch seconds of an RFC 3339 timestamp (any number of fractional digits).

    :param text: e.g. ``2026-11-27T21:00:00.123456789Z``, ``...+02:00`` or ``...+0000`` (the
        offset form google-cloud-logging's ``list_entries`` writes into its default time term).
    """
    match = _TIMESTAMP.match(text)
    if match is None:
        raise LogFilterError(f"timestamp {text!r} is not RFC 3339, e.g. 2026-01-01T00:00:00Z")
    year, month, day, hour, minute, second = (int(match.group(i)) for i in range(1, 7))
    seconds = calendar.timegm((year, month, day, hour, minute, second, 0, 0, 0))
    fraction = float(match.group(7)) if match.group(7) else 0.0
    zone = match.group(8)
    if zone not in ("Z", "z"):
        sign = 1 if zone[0] == "+" else -1
        seconds -= sign * (int(zone[1:3]) * 3600 + int(zone[-2:]) * 60)
    return seconds + fraction


def _unquote(value: str) -> str:
    if value.startswith('"'):
        return re.sub(r"\\(.)", r"\1", value[1:-1])
    return value


def _term(key: str, op: str, value: str) -> Callable[[LogEntry], bool]:
    if key == "timestamp" and op in _ORDERED:
        bound = parse_timestamp(value)
        compare = _ORDERED[op]
        return lambda e: compare(e.time, bound)
    if key == "severity" and op in _ORDERED:
        level = SEVERITIES.get(value.upper())
        if level is None:
            raise LogFilterError(f"unknown severity {value!r}; expected one of {', '.join(SEVERITIES)}")
        compare = _ORDERED[op]
        return lambda e: compare(SEVERITIES[e.severity], level)
    if key == "textPayload" and op in (":", "="):
        return (lambda e: value in e.text) if op == ":" else (lambda e: e.text == value)
    if op == "=":
        if key == "logName":
            return lambda e: e.log_name == value
        if key == "resource.type":
            return lambda e: value == RESOURCE_TYPE
        if key.startswith("resource.labels.") and len(key) > len("resource.labels."):
            name = key[len("resource.labels.") :]
            return lambda e: e.resource_labels.get(name) == value
        if key.startswith("labels.") and len(key) > len("labels."):
            name = key[len("labels.") :]
            return lambda e: e.labels.get(name) == value
    raise LogFilterError(
        f"unsupported filter term {key}{op}{value!r}; the emulator supports {SUPPORTED_LOG_FILTERS}"
    )


def _log_id_term(log_id: str) -> Callable[[LogEntry], bool]:
    return lambda e: log_id == LOG_ID


def _text_term(needle: str) -> Callable[[LogEntry], bool]:
    return lambda e: needle in e.text


def parse_log_filter(text: str) -> Callable[[LogEntry], bool]:
    """A predicate for a ``ListLogEntries`` filter in the supported subset (see the module docs).

    :param text: the filter; empty matches everything.
    :raises LogFilterError: naming the unsupported part.
    """
    terms: list[Callable[[LogEntry], bool]] = []
    pos, end = 0, len(text.rstrip())
    while pos < end:
        match = _TOKEN.match(text, pos)
        if match is None or match.end() == pos:
            raise LogFilterError(
                f"cannot parse the filter at {text[pos : pos + 30].strip()!r}; "
                f"the emulator supports {SUPPORTED_LOG_FILTERS}"
            )
        pos = match.end()
        if match.group("bad") or match.group("badchar"):
            found = match.group("bad") or match.group("badchar")
            raise LogFilterError(f"{found!r} is not supported; the emulator supports {SUPPORTED_LOG_FILTERS}")
        if match.group("and"):
            continue
        if match.group("logid") is not None:
            terms.append(_log_id_term(match.group("logid")))
        elif match.group("text") is not None:
            terms.append(_text_term(_unquote(match.group("text"))))
        else:
            terms.append(_term(match.group("key"), match.group("op"), _unquote(match.group("value"))))
    return lambda e: all(term(e) for term in terms)


def parse_order_by(text: str) -> bool:
    """Whether ``order_by`` asks for newest first.

    :param text: empty, ``timestamp``, ``timestamp asc`` or ``timestamp desc``.
    """
    normal = " ".join(text.split()).lower()
    if normal in ("", "timestamp", "timestamp asc"):
        return False
    if normal == "timestamp desc":
        return True
    raise LogFilterError(f"order_by {text!r} is not supported; use 'timestamp asc' or 'timestamp desc'")


def render_entry(entry: LogEntry) -> bytes:
    """The serialized ``google.logging.v2.LogEntry`` of a stored entry.

    :param entry: the stored entry.
    """
    msg = LogEntryPb(
        log_name=entry.log_name,
        text_payload=entry.text,
        severity=SEVERITIES[entry.severity],
        insert_id=f"{entry.seq:016x}",
        labels=entry.labels,
    )
    msg.resource.type = RESOURCE_TYPE
    msg.resource.labels.update(entry.resource_labels)
    msg.timestamp.FromNanoseconds(int(entry.time * 1e9))
    msg.receive_timestamp.FromNanoseconds(int(entry.time * 1e9))
    return bytes(msg.SerializeToString())
