"""One function over many items, on the executor the caller chooses.

Bulk writes accept any ``concurrent.futures.Executor`` (threads, processes) or a
``dask.distributed.Client``; without one they use a thread pool of their own. The
function and its arguments must pickle for processes and clusters: module-level
functions taking the client, which carries its configuration (and token) with it.
Each item's outcome comes back in order: its result, or whatever exception stopped it
(a `ClientError`, a file gone meanwhile, a lost worker): one item's failure never
takes the others' outcomes with it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Executor, ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any, TypeVar

from synapse.errors import InvalidInputError

__all__ = ["Outcome", "check_executor", "run_each", "using"]

V = TypeVar("V")
Outcome = tuple[Any, Exception | None]


def _is_dask_client(executor: Any) -> bool:
    return type(executor).__module__.split(".")[0] == "distributed" and hasattr(executor, "submit")


def check_executor(executor: Any) -> None:
    """Refuse, before anything is sent, what cannot run the work."""
    if executor is None or isinstance(executor, Executor) or _is_dask_client(executor):
        return
    raise InvalidInputError(
        "executor must be a concurrent.futures.Executor or a dask.distributed.Client, "
        f"got {type(executor).__name__}"
    )


def check_count(name: str, value: Any) -> None:
    """Refuse a worker count or concurrency limit that is not an int >= 1."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise InvalidInputError(f"{name} must be an int >= 1, got {value!r}")


@contextmanager
def using(executor: Any, max_workers: int, name: str) -> Iterator[Any]:
    """The caller's executor as is, or a thread pool of ``max_workers`` closed after."""
    check_executor(executor)
    if executor is not None:
        yield executor
        return
    check_count("max_workers", max_workers)
    with ThreadPoolExecutor(max_workers, thread_name_prefix=name) as pool:
        yield pool


def run_each(
    executor: Any, function: Callable[..., V], calls: Sequence[tuple[Any, ...]]
) -> list[Outcome]:
    """``function(*args)`` for each ``args`` of ``calls`` on ``executor``; the outcomes
    in the order of ``calls``. Any exception is that item's outcome; only an interrupt
    (Ctrl-C) propagates."""
    if _is_dask_client(executor):
        # pure=False: two uploads of the same file are two uploads, not one cached result.
        futures = [executor.submit(function, *args, pure=False) for args in calls]
    else:
        futures = [executor.submit(function, *args) for args in calls]
    outcomes: list[Outcome] = []
    for future in futures:
        try:
            outcomes.append((future.result(), None))
        except Exception as exc:  # the item's outcome, reported with it
            outcomes.append((None, exc))
    return outcomes
