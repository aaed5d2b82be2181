"""The SDK's one retry policy: which failures are retried, and how long to wait.

Every retry loop of the SDK (requests, chunk uploads, downloads) waits through
[`wait()`][synapse.retry.RetryPolicy.wait], so that one ``sleep`` and one random source can be
injected
(tests pass ``sleep=`` to record the waits instead of sleeping them).
"""

from __future__ import annotations

import datetime as dt
import email.utils
import math
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field

__all__ = ["IDEMPOTENT_METHODS", "SAFE_METHODS", "RetryPolicy", "parse_retry_after"]

IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})
#: Methods that only read: sending one again changes nothing on the server.
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def parse_retry_after(value: str | None, *, now: Callable[[], float] = time.time) -> float | None:
    """Seconds to wait from a ``Retry-After`` header: delta seconds or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=dt.timezone.utc)
        seconds = when.timestamp() - now()
    if not math.isfinite(seconds):
        return None
    return max(0.0, seconds)


@dataclass(frozen=True)
class RetryPolicy:
    """The SDK's one retry policy.

    Requests that cannot have reached the server (connection refused, connect timeout)
    and 429 answers are retried for every method. 408, 425, 500, 502, 503, 504 and
    failures after the request was sent are retried only for idempotent methods: a POST
    or PATCH that may have been applied is never sent twice.

    The first retry of a read (GET, HEAD, OPTIONS) waits at most ``first_read_wait`` (but
    not after a 429, which asks to slow down): one failed read is usually a passing
    fault, and a listing whose page waits half a second holds up every page after it. A
    second failure in a row backs off as usual, so an outage still gets the whole backoff.
    """

    max_retries: int = 3
    backoff_base: float = 0.5
    backoff_cap: float = 30.0
    retry_after_cap: float = 60.0
    retry_any_method: frozenset[int] = frozenset({429})
    retry_idempotent: frozenset[int] = frozenset({408, 425, 500, 502, 503, 504})
    #: The longest first wait of a read (keyword only: it came after the others).
    first_read_wait: float = field(default=0.05, kw_only=True)
    #: How to wait; tests give a function that records the delays instead.
    sleep: Callable[[float], None] = field(default=time.sleep, compare=False, repr=False)
    rng: random.Random = field(default_factory=random.Random, compare=False, repr=False)

    def retries_status(self, method: str, status: int) -> bool:
        """Whether an answer with this status may be retried for this method."""
        if status in self.retry_any_method:
            return True
        return status in self.retry_idempotent and method in IDEMPOTENT_METHODS

    def delay(
        self,
        attempt: int,
        retry_after: float | None = None,
        method: str | None = None,
        status: int | None = None,
    ) -> float:
        """Seconds to wait before retry number ``attempt`` (0-based) of a ``method``
        request answered ``status`` (``None``: no answer): the server's ``Retry-After``
        (capped), else full-jitter exponential backoff (at most ``first_read_wait`` for the
        first retry of a read, unless the server said to slow down with a 429)."""
        if retry_after is not None:
            return min(retry_after, self.retry_after_cap)
        ceiling = min(self.backoff_cap, self.backoff_base * 2**attempt)
        if attempt == 0 and method in SAFE_METHODS and status not in self.retry_any_method:
            ceiling = min(ceiling, self.first_read_wait)
        return self.rng.uniform(0.0, ceiling)

    def wait(
        self, attempt: int, retry_after: float | None = None, method: str | None = None
    ) -> float:
        """Wait before retry number ``attempt``; returns the seconds waited."""
        seconds = self.delay(attempt, retry_after, method)
        self.sleep(seconds)
        return seconds
