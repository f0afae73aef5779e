"""Push waiting: one Pub/Sub pull loop per subscription per triggerer, shared by its triggers.

Batch publishes a message when a job's state changes (see :mod:`airflow_batchstream.notifications`).
Every trigger of one event loop that waits on the same subscription (and credentials) joins one
:class:`SubscriptionPuller`, which pulls in batches and hands each watched job's notices to its
triggers. A trigger reads the job (one ``GetJob``) only when a notice says it ended, or says
nothing it can read; the summary always comes from the job, never from the message.

**Two or more triggerers** share the one subscription the user names (the durable queue Batch's
messages wait in, created before the job so none is lost). Pub/Sub gives each message to one
puller: a triggerer that is handed a notice of a job it does not watch gives it back
(``ModifyAckDeadline``: at once the first time, then after :data:`RETURN_DELAYS`), so the
triggerer that watches it gets it next; a notice nobody claims for :data:`UNCLAIMED_TTL` seconds
(a job nobody waits for in push mode) is acknowledged and dropped. Notices of jobs that ended
here are acknowledged (duplicates). Duplicate, late and out-of-order notices are harmless: a
non-ending state only wakes nothing, an ending one costs one read, and a trigger ends once.

**The message format**, as "Monitor jobs using notifications" shows it: attributes ``Type``
(``JOB_STATE_CHANGED``), ``JobName``, ``JobUID``, ``NewJobState`` (and ``Region``). The docs do not
pin down everything, so both plausible forms are read: attribute names in any case
(``JobName``/``jobName``), the job as a full resource name or a bare job id (matched by id, and by
``Region`` when given), and a state in the attribute or else in the data (a JSON ``Job`` with
``status.state``, or a status text ending ``... to STATE ...``). A notice with no readable state of a
watched job costs one read.

**Safety net**: each trigger also reads its job every ``safety_poll_interval`` seconds (lost
messages); when the subscription is gone (NOT_FOUND) or refused (permission), every trigger of
the loop falls back to polling at its ``poll_interval``.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import json
import logging
import re
import time
from collections.abc import AsyncGenerator, Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from airflow_batchstream.loop_cache import PerLoop
from airflow_batchstream.outcome import ENDING_STATES

log = logging.getLogger(__name__)

#: Messages asked for per pull.
PULL_BATCH = 1000
#: Timeout of one pull, in seconds (the service may answer sooner, with or without messages).
PULL_TIMEOUT = 30.0
#: Seconds until a notice of a job not watched here is offered again: the first time, the second, ...
RETURN_DELAYS = (0, 1, 2)
#: Seconds after its publication an unclaimed notice is acknowledged and dropped.
UNCLAIMED_TTL = 600.0
#: How many jobs that ended here are remembered, to acknowledge their duplicates.
REMEMBERED_ENDS = 10_000
#: Back-off between failed pulls (transient errors), in seconds: first, then doubling, at most.
RETRY_FIRST, RETRY_MAX = 0.5, 10.0

_TEXT_STATE = re.compile(r"\bto ([A-Z_]+)\b")


@dataclass(frozen=True)
class Notice:
    """What a notification says: the job (full name or bare id), its region and new state, if given.

    :param job: ``projects/P/locations/R/jobs/ID`` or ``ID``.
    :param region: the job's region, when the message names it.
    :param state: the job's new state name, or ``None`` when the message does not say.
    """

    job: str
    region: str | None
    state: str | None


#: Handed to watchers when the subscription cannot be pulled any more (gone or refused).
LOST = object()


def parse_notice(attributes: Mapping[str, str], data: bytes) -> Notice | None:
    """
    Read a Batch job-state notification; ``None`` for anything else (a task notice, a stranger).

    :param attributes: the message's attributes.
    :param data: the message's data.
    """
    attrs = {key.lower().replace("_", ""): value for key, value in attributes.items()}
    kind = attrs.get("type")
    if kind is not None and kind != "JOB_STATE_CHANGED":
        return None
    body: Any = None
    with contextlib.suppress(ValueError, UnicodeDecodeError):
        body = json.loads(data.decode())
    body = body if isinstance(body, dict) else {}
    job = attrs.get("jobname") or attrs.get("jobid") or body.get("name")
    if not job:
        return None
    state = attrs.get("newjobstate") or (body.get("status") or {}).get("state")
    if not state and not body:
        match = _TEXT_STATE.findall(data.decode(errors="replace"))
        state = match[-1] if match else None
    return Notice(job, attrs.get("region"), state or None)


@dataclass
class PushStats:
    """Counters of one pull loop, for benchmarks and logs.

    :param pulls: pull calls made.
    :param messages: messages received.
    :param handed: notices handed to watchers.
    :param returned: notices given back for another triggerer.
    :param dropped: messages acknowledged without a watcher (strangers, duplicates, unclaimed).
    """

    pulls: int = 0
    messages: int = 0
    handed: int = 0
    returned: int = 0
    dropped: int = 0


@dataclass(eq=False)
class _Watch:
    job_name: str
    queue: asyncio.Queue[Any] = field(default_factory=asyncio.Queue)


class SubscriptionPuller:
    """The pull loop of one subscription in one event loop; get it with :meth:`for_subscription`.

    :param subscription: ``projects/P/subscriptions/S``.
    :param client: a ``SubscriberAsyncClient`` built in this loop.
    """

    _registry: PerLoop[dict[tuple[str, str], SubscriptionPuller]] = PerLoop(dict)

    def __init__(self, subscription: str, client: Any) -> None:
        self.subscription = subscription
        self.client = client
        self.stats = PushStats()
        self._watches: dict[str, set[_Watch]] = {}
        self._ids: dict[str, set[str]] = {}  # job id -> watched full names (for bare-id notices)
        self._ended: collections.OrderedDict[str, None] = collections.OrderedDict()
        self._returns: collections.OrderedDict[str, int] = collections.OrderedDict()
        self._task: asyncio.Task[None] | None = None
        self._settling: set[asyncio.Task[None]] = set()  # acknowledgements on their way

    @classmethod
    async def for_subscription(
        cls, subscription: str, identity: str, client_factory: Callable[[], Awaitable[Any]]
    ) -> SubscriptionPuller:
        """Return the running loop's puller of ``subscription`` for ``identity``, creating it if needed.

        :param subscription: ``projects/P/subscriptions/S``.
        :param identity: the credentials' identity (connection id and impersonation chain).
        :param client_factory: builds the async client; awaited only when a new puller is made.
        """
        pullers = cls._registry.get()
        key = (subscription, identity)
        puller = pullers.get(key)
        if puller is None:
            client = await client_factory()
            puller = pullers.setdefault(key, cls(subscription, client))
        return puller

    @property
    def watched(self) -> int:
        """How many watchers are subscribed now."""
        return sum(len(w) for w in self._watches.values())

    @contextlib.asynccontextmanager
    async def watch(self, job_name: str) -> AsyncGenerator[asyncio.Queue[Any], None]:
        """Subscribe to a job's notices: the queue gets each :class:`Notice`, or :data:`LOST`.

        :param job_name: ``projects/P/locations/R/jobs/ID``.
        """
        watch = _Watch(job_name)
        self._watches.setdefault(job_name, set()).add(watch)
        self._ids.setdefault(job_name.rsplit("/", 1)[-1], set()).add(job_name)
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(
                self._run(), name=f"batchstream-push-{self.subscription}"
            )
        try:
            yield watch.queue
        finally:
            self._leave(watch)

    def ended(self, job_name: str) -> None:
        """Remember that a job's wait ended here: its later notices are duplicates.

        :param job_name: ``projects/P/locations/R/jobs/ID``.
        """
        self._ended[job_name] = None
        self._ended.move_to_end(job_name)
        while len(self._ended) > REMEMBERED_ENDS:
            self._ended.popitem(last=False)

    def _leave(self, watch: _Watch) -> None:
        watches = self._watches.get(watch.job_name)
        if watches is None:
            return
        watches.discard(watch)
        if not watches:
            del self._watches[watch.job_name]
            job_id = watch.job_name.rsplit("/", 1)[-1]
            names = self._ids.get(job_id, set())
            names.discard(watch.job_name)
            if not names:
                self._ids.pop(job_id, None)

    # ------------------------------------------------------------------ the loop

    async def _run(self) -> None:
        from google.api_core import exceptions

        from airflow_batchstream.retry import is_transient

        backoff = RETRY_FIRST
        while self._watches:
            try:
                response = await self.client.pull(
                    subscription=self.subscription, max_messages=PULL_BATCH, retry=None, timeout=PULL_TIMEOUT
                )
            except exceptions.DeadlineExceeded:
                continue  # a pull that found nothing in its time: pull again
            except exceptions.GoogleAPICallError as exc:
                if is_transient(exc):
                    log.warning("Pulling %s failed (%s); trying again.", self.subscription, exc)
                    await asyncio.sleep(backoff)
                    backoff = min(backoff * 2, RETRY_MAX)
                    continue
                log.warning("Cannot pull %s (%s): the waits fall back to polling.", self.subscription, exc)
                self._lose()
                return
            backoff = RETRY_FIRST
            self.stats.pulls += 1
            # The raw protobuf messages: reading proto-plus wrappers cost more than the rest of a notice.
            acks, returns = self._dispatch(type(response).pb(response).received_messages)
            # Acknowledge beside the next pull, not before it: under load an acknowledgement waits
            # its turn behind the reads the notices just caused, and the next batch waited with it.
            if acks or returns:
                settle = asyncio.get_running_loop().create_task(self._settle(acks, returns))
                self._settling.add(settle)
                settle.add_done_callback(self._settling.discard)

    def _lose(self) -> None:
        for watches in self._watches.values():
            for watch in watches:
                watch.queue.put_nowait(LOST)

    def _dispatch(self, received: Any) -> tuple[list[str], dict[int, list[str]]]:
        """Hand each notice of a watched job to its watchers; return the ack ids to acknowledge and
        those to give back (by delay).

        :param received: ``ReceivedMessage`` protobuf messages of one pull.
        """
        acks: list[str] = []
        returns: dict[int, list[str]] = {}
        now = time.time()
        for item in received:
            self.stats.messages += 1
            message = item.message
            notice = parse_notice(message.attributes, message.data)
            names = self._names(notice) if notice is not None else []
            if names:
                for name in names:
                    for watch in self._watches.get(name, ()):
                        watch.queue.put_nowait(notice)
                self.stats.handed += 1
                acks.append(item.ack_id)
                self._returns.pop(message.message_id, None)
            elif notice is None or notice.job in self._ended or self._too_old(message, now):
                self.stats.dropped += 1
                acks.append(item.ack_id)
                self._returns.pop(message.message_id, None)
            else:
                tries = self._returns.pop(message.message_id, 0)
                self._returns[message.message_id] = tries + 1
                while len(self._returns) > REMEMBERED_ENDS:
                    self._returns.popitem(last=False)
                delay = RETURN_DELAYS[min(tries, len(RETURN_DELAYS) - 1)]
                returns.setdefault(delay, []).append(item.ack_id)
                self.stats.returned += 1
        return acks, returns

    def _names(self, notice: Notice) -> list[str]:
        if notice.job.startswith("projects/"):
            return [notice.job] if notice.job in self._watches else []
        return [
            name
            for name in self._ids.get(notice.job, ())
            if notice.region is None or name.split("/")[3] == notice.region
        ]

    @staticmethod
    def _too_old(message: Any, now: float) -> bool:
        if not message.HasField("publish_time"):
            return False
        published = message.publish_time
        return now - (published.seconds + published.nanos / 1e9) > UNCLAIMED_TTL

    async def _settle(self, acks: list[str], returns: dict[int, list[str]]) -> None:
        from google.api_core import exceptions

        try:
            for start in range(0, len(acks), PULL_BATCH):
                chunk = acks[start : start + PULL_BATCH]
                await self.client.acknowledge(
                    subscription=self.subscription, ack_ids=chunk, timeout=PULL_TIMEOUT
                )
            for delay, ack_ids in returns.items():
                await self.client.modify_ack_deadline(
                    subscription=self.subscription,
                    ack_ids=ack_ids,
                    ack_deadline_seconds=delay,
                    timeout=PULL_TIMEOUT,
                )
        except exceptions.GoogleAPICallError as exc:
            # Unacknowledged messages come again after their deadline: harmless duplicates.
            log.warning("Acknowledging messages of %s failed (%s).", self.subscription, exc)


async def push_looks(
    job_name: str,
    subscription: str,
    identity: str,
    client_factory: Callable[[], Awaitable[Any]],
    read: Callable[[], Awaitable[Any]],
    safety_poll_interval: float,
    wake_states: frozenset[str],
    fallback: Callable[[], Awaitable[AsyncGenerator[Any, None]]],
) -> AsyncGenerator[Any, None]:
    """
    Yield the job each time a notice says it ended (or every ``safety_poll_interval``); poll if the
    subscription is lost.

    :param job_name: ``projects/P/locations/R/jobs/ID``.
    :param subscription: ``projects/P/subscriptions/S``.
    :param identity: the credentials' identity, which with the subscription selects the pull loop.
    :param client_factory: builds a ``SubscriberAsyncClient`` in this loop.
    :param read: one ``GetJob`` of the job.
    :param safety_poll_interval: seconds between reads when no notice comes (lost messages).
    :param wake_states: the states a notice must name to cost a read (the ones that end the wait).
    :param fallback: the polling looks to continue with when the subscription is lost.
    """
    puller = await SubscriptionPuller.for_subscription(subscription, identity, client_factory)
    finished = False
    try:
        async with puller.watch(job_name) as notices:
            next_read = time.monotonic() + safety_poll_interval
            while True:
                try:
                    notice = await asyncio.wait_for(notices.get(), max(0.0, next_read - time.monotonic()))
                except asyncio.TimeoutError:
                    notice = None
                if notice is LOST:
                    break
                if notice is None or notice.state is None or notice.state in wake_states:
                    job = await read()
                    next_read = time.monotonic() + safety_poll_interval
                    finished = job.status.state.name in ENDING_STATES
                    yield job
    finally:
        if finished:
            puller.ended(job_name)  # its later notices are duplicates, here
    log.warning("Subscription %s is not available: polling Batch job %s instead.", subscription, job_name)
    async with contextlib.aclosing(await fallback()) as looks:
        async for job in looks:
            yield job
