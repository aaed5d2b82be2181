"""Sans-IO protocols: a generator of steps, and the loop that does their I/O.

A transfer's decisions (which request next, how long to back off, when to give up) are
a generator that yields steps, a `Wait` (the retry policy's delay) or a protocol's own
(`Send` a call, a download's fetch), and receives each step's outcome: its value, or the
`ClientError` it raised, thrown in; a `Pause` between slices of a long local computation
lets an event loop run other tasks (and cancel this one). `run_steps` does the I/O
blocking (the sync client), `synapse.aio.transfers.arun_steps` with ``await``; the
decisions are written once.
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from synapse.errors import ClientError
from synapse.executors import Outcome, run_each

if TYPE_CHECKING:
    from synapse.transport import Call, Transport

__all__ = ["Each", "Pause", "Send", "StepRunner", "Wait", "drive", "driven", "run_steps", "sent"]

Y = TypeVar("Y")
R = TypeVar("R")


@dataclass(frozen=True)
class Send:
    """Send this call (it asks for no retries of its own); its decoded answer is the
    outcome."""

    call: Call


@dataclass(frozen=True)
class Wait:
    """Wait this long (the retry policy's backoff) before the next step."""

    seconds: float


@dataclass(frozen=True)
class Pause:
    """A turn for others between slices of local work (hashing a resumed upload's
    prefix): nothing for a blocking loop, a yield to the event loop for an async one."""


@dataclass(frozen=True)
class Each:
    """Run the steps of ``work(*args)`` for each ``args`` of ``calls``, at the same time;
    the outcome is each one's ``(result, error)``, in order. The sync driver runs them on
    its pool (or the caller's executor: then ``work`` and its arguments must pickle) or
    in turn, the async one as tasks on the loop. ``work`` takes the client first."""

    work: Callable[..., Generator[Any, Any, Any]]
    calls: Sequence[tuple[Any, ...]]


#: The one pause (it carries nothing).
PAUSE = Pause()


class StepRunner(Generic[Y, R]):
    """Feeds a generator of steps the outcome of the previous one: what the blocking and
    the awaiting loop share, so that theirs is only the I/O."""

    def __init__(self, steps: Generator[Y, Any, R]) -> None:
        self._steps = steps
        self._reply: Any = None
        self._failure: ClientError | None = None
        self.result: R

    def next(self) -> Y | None:
        """The next step, or ``None`` when the generator returned (``result``)."""
        reply, failure, self._reply, self._failure = self._reply, self._failure, None, None
        try:
            return self._steps.send(reply) if failure is None else self._steps.throw(failure)
        except StopIteration as done:
            self.result = done.value
            return None

    def answered(self, reply: Any) -> None:
        self._reply = reply

    def failed(self, error: ClientError) -> None:
        self._failure = error

    def close(self) -> None:
        """Stop the generator where it is (its ``finally`` clauses run: files closed)."""
        self._steps.close()


def run_steps(
    steps: Generator[Y, Any, R], wait: Callable[[float], None], perform: Callable[[Any], Any]
) -> R:
    """Run a generator of steps with blocking I/O: ``wait`` for a `Wait`, ``perform``
    for any other step."""
    runner = StepRunner(steps)
    try:
        while (step := runner.next()) is not None:
            if isinstance(step, Wait):
                wait(step.seconds)
                continue
            if isinstance(step, Pause):
                continue
            try:
                runner.answered(perform(step))
            except ClientError as exc:
                runner.failed(exc)
        return runner.result
    finally:
        runner.close()


def sent(call: Call) -> Generator[Send, Any, Any]:
    """One request as steps: its decoded answer (the smallest description either
    client's driver runs)."""
    return (yield Send(call))


def drive(transport: Transport, steps: Generator[Any, Any, R], pool: Any = None) -> R:
    """Run a generator of steps (an upload, a create, a batch) with the sync transport:
    the blocking twin of `synapse.aio.transfers.adrive`. An `Each` runs on ``pool`` (an
    executor), or in turn without one."""

    def perform(step: Any) -> Any:
        if isinstance(step, Each):
            calls = [(step.work, *args) for args in step.calls]
            if pool is not None:
                return run_each(pool, driven, calls)
            return [_outcome(driven, call) for call in calls]
        return transport.answer(step.call)

    return run_steps(steps, transport.policy.sleep, perform)


def driven(work: Callable[..., Generator[Any, Any, R]], client: Any, *args: Any) -> R:
    """``work(client, *args)``'s steps, driven with ``client``'s transport (in whichever
    thread or process runs it: a module-level function, so it pickles)."""
    return drive(client.transport, work(client, *args))


def _outcome(function: Callable[..., Any], args: tuple[Any, ...]) -> Outcome:
    try:
        return function(*args), None
    except Exception as exc:  # the item's outcome, reported with it
        return None, exc
