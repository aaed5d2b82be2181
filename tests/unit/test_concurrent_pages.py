"""Pages in flight concurrently: items in order, each exactly once, whatever fails."""

from __future__ import annotations

import json
import random
import threading
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import responses
from hypothesis import given, settings
from hypothesis import strategies as st

from synapse import Client, ClientError, IncompleteResultError
from synapse.pagination import ConcurrentFetcher
from tests.conftest import BASE, waits_with

LIST_URL = f"{BASE}/sdk/tasks/"


def flaky_server(total: int, seed: int, fault_rate: float, log: list[int]) -> Any:
    """A list of ``total`` tasks whose pages answer 503 or 429 now and then."""
    rng = random.Random(seed)
    lock = threading.Lock()

    def callback(request: Any) -> tuple[int, dict[str, str], str]:
        query = parse_qs(urlsplit(request.url).query)
        size = int(query["page_size"][0])
        page = int(query["page"][0])
        with lock:
            roll = rng.random()
            log.append(page)
        if roll < fault_rate / 2:
            return 503, {}, json.dumps({"detail": "busy"})
        if roll < fault_rate:
            return 429, {"Retry-After": "0"}, json.dumps({"detail": "slow down"})
        rows = [
            {"id": i + 1, "project": 1} for i in range((page - 1) * size, min(total, page * size))
        ]
        last = max(1, -(-total // size))
        body = {"count": total, "previous": None, "results": rows,
                "next": f"{LIST_URL}?page={page + 1}" if page < last else None}  # fmt: skip
        return 200, {}, json.dumps(body)

    return callback


def client_with(in_flight: int, page_size: int) -> Client:
    client = waits_with(Client(BASE, "t" * 20, page_size=page_size, max_retries=8))
    client.page_fetcher = ConcurrentFetcher(in_flight)
    return client


@settings(max_examples=40)
@given(
    total=st.integers(0, 120),
    page_size=st.integers(1, 9),
    in_flight=st.integers(1, 6),
    seed=st.integers(0, 10**6),
)
def test_every_item_once_in_order_under_503s_and_429s(
    total: int, page_size: int, in_flight: int, seed: int
) -> None:
    log: list[int] = []
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        mock.add_callback(responses.GET, LIST_URL, callback=flaky_server(total, seed, 0.25, log))
        client = client_with(in_flight, page_size)
        got = [t.id for t in client.tasks.all()]
        client.close()
    assert got == list(range(1, total + 1))


@settings(max_examples=30)
@given(total=st.integers(1, 200), page_size=st.integers(1, 10), a=st.integers(0, 220),
       length=st.integers(0, 80), in_flight=st.integers(2, 6))  # fmt: skip
def test_any_slice_equals_the_list_slice(
    total: int, page_size: int, a: int, length: int, in_flight: int
) -> None:
    log: list[int] = []
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        mock.add_callback(responses.GET, LIST_URL, callback=flaky_server(total, 1, 0.0, log))
        client = client_with(in_flight, page_size)
        everything = list(range(1, total + 1))
        assert [t.id for t in client.tasks.all()[a : a + length]] == everything[a : a + length]
        client.close()


def test_an_early_break_sends_at_most_in_flight_more_pages_and_close_ends_the_threads() -> None:
    log: list[int] = []
    before = set(threading.enumerate())
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        mock.add_callback(responses.GET, LIST_URL, callback=flaky_server(1000, 1, 0.0, log))
        client = client_with(4, 10)
        for task in client.tasks.all().iterator():
            if task.id == 25:  # in the third page
                break
        threads = [t for t in threading.enumerate() if t not in before]
        assert threads
        assert all(t.name.startswith("synapse-pages") for t in threads)
        client.close()
        for thread in threads:
            thread.join(5)
        assert not any(t.is_alive() for t in threads)
    assert len(set(log)) <= 3 + 4  # the pages read, and at most in_flight fetched ahead


def test_a_one_page_query_starts_no_thread() -> None:
    log: list[int] = []
    before = set(threading.enumerate())
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        mock.add_callback(responses.GET, LIST_URL, callback=flaky_server(7, 1, 0.0, log))
        client = client_with(4, 10)
        assert len(list(client.tasks.all())) == 7
        assert client.tasks.all()[0].id == 1
        assert set(threading.enumerate()) == before
        client.close()
    assert log == [1, 1]


def lossy_server(total: int, fault: str, at: int) -> Any:
    """A list of ``total`` tasks whose page ``at`` (and those after it) goes wrong:
    ``vanish`` answers 404, ``short`` ends the list there (no ``next``, half a page),
    ``recount`` announces another count."""

    def callback(request: Any) -> tuple[int, dict[str, str], str]:
        query = parse_qs(urlsplit(request.url).query)
        size, page = int(query["page_size"][0]), int(query["page"][0])
        last = max(1, -(-total // size))
        count, more = total, page < last
        rows = [{"id": i + 1} for i in range((page - 1) * size, min(total, page * size))]
        if page >= at:
            if fault == "vanish":
                return 404, {}, json.dumps({"detail": "Invalid page."})
            if fault == "short":
                rows, more = rows[: len(rows) // 2], False
            if fault == "recount":
                count = total - 1
        body = {"count": count, "previous": None, "results": rows,
                "next": f"{LIST_URL}?page={page + 1}" if more else None}  # fmt: skip
        return 200, {}, json.dumps(body)

    return callback


@settings(max_examples=60)
@given(
    total=st.integers(2, 60),
    page_size=st.integers(1, 9),
    in_flight=st.integers(1, 5),
    fault=st.sampled_from(["vanish", "short", "recount"]),
    at=st.integers(2, 12),
    data=st.data(),
)
def test_a_listing_is_whole_or_raises_never_shorter(
    total: int, page_size: int, in_flight: int, fault: str, at: int, data: st.DataObject
) -> None:
    """Whatever goes wrong from page ``at`` on, a listing, a slice or a frame either holds
    every item in order or raises `IncompleteResultError`: never a shorter result."""
    low = data.draw(st.integers(0, total - 1))
    high = data.draw(st.one_of(st.none(), st.integers(low + 1, total)))
    expected = list(range(1, total + 1))[low:high]
    last = -(-(low + len(expected)) // page_size)  # the page of the last item wanted
    with responses.RequestsMock() as mock, client_with(in_flight, page_size) as client:
        mock.add_callback(responses.GET, LIST_URL, callback=lossy_server(total, fault, at))
        query = client.tasks.filter(project=1).page_size(page_size)[low:high]
        ids: list[int] = []
        raised: IncompleteResultError | None = None
        try:
            ids.extend(t.id for t in query)
        except IncompleteResultError as error:
            raised = error
    if raised is not None:
        assert "sdk/tasks/: page" in str(raised)
        assert at <= last  # only a fault on a page read is reported
        return
    assert ids == expected  # no error: every item, in order
    assert not (fault == "vanish" and at <= last)  # a vanished page always raises


def gated_server(total: int, gate: threading.Event, entered: threading.Event, log: list[int],
                 gated_from: int = 3, status: int = 200) -> Any:  # fmt: skip
    """Pages of one task; pages from ``gated_from`` on wait for ``gate`` (``entered`` is
    set when one does), then answer ``status``."""

    def callback(request: Any) -> tuple[int, dict[str, str], str]:
        page = int(parse_qs(urlsplit(request.url).query)["page"][0])
        log.append(page)
        if page >= gated_from:
            entered.set()
            gate.wait()
            if status != 200:
                return status, {}, json.dumps({"detail": "busy"})
        body = {"count": total, "previous": None, "results": [{"id": page}],
                "next": f"{LIST_URL}?page={page + 1}" if page < total else None}  # fmt: skip
        return 200, {}, json.dumps(body)

    return callback


def page_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "synapse-pages"]


def test_a_break_stops_the_retries_of_pages_in_flight_and_their_threads() -> None:
    gate, entered, log = threading.Event(), threading.Event(), []
    with responses.RequestsMock() as mock, client_with(4, 1) as client:
        mock.add_callback(
            responses.GET, LIST_URL, callback=gated_server(12, gate, entered, log, status=503)
        )
        for task in client.tasks.all().iterator():
            if task.id == 2:
                break  # pages 3-5 are in flight, waiting on the server
        entered.wait()
        gate.set()  # they answer 503 now: nobody wants them, so no retry
        for thread in page_threads():
            thread.join(timeout=30)  # a bound against a hang; returns when it ends
        assert page_threads() == []
    assert sorted(log) == [1, 2, *sorted(set(log) - {1, 2})]
    assert len(log) == len(set(log))  # each page asked once: no retry after the break
    assert max(log) <= 2 + 4


def test_close_while_another_thread_lists_raises_a_clear_error() -> None:
    gate, entered, log = threading.Event(), threading.Event(), []
    outcome: list[BaseException] = []
    with responses.RequestsMock() as mock:
        mock.add_callback(responses.GET, LIST_URL, callback=gated_server(12, gate, entered, log))
        client = client_with(2, 1)

        def listing() -> None:
            try:
                list(client.tasks.all().iterator())
            except BaseException as error:  # the test reads it below
                outcome.append(error)

        worker = threading.Thread(target=listing)
        worker.start()
        entered.wait()  # the listing is in the middle of its pages
        client.close()
        gate.set()
        worker.join(timeout=30)
    assert len(outcome) == 1
    assert isinstance(outcome[0], ClientError)
    assert "closed" in str(outcome[0])


def test_a_cut_page_is_retried_and_a_page_that_stays_cut_names_itself() -> None:
    answers = iter([b'{"count": 2, "next": null, "results": [{"id": 1}, {"i', b"",
                    b'{"count": 2, "next": null, "results": [{"id": 1}, {"id": 2}]}'])  # fmt: skip
    with responses.RequestsMock() as mock, client_with(1, 10) as client:
        mock.add_callback(responses.GET, LIST_URL, callback=lambda _: (200, {}, next(answers)))
        assert [t.id for t in client.tasks.all()] == [1, 2]
        assert len(mock.calls) == 3  # two cut answers retried, as a broken connection is
    with responses.RequestsMock() as mock, client_with(1, 10) as client:
        mock.add(responses.GET, LIST_URL, body=b'{"count": 2, "results": [')
        with pytest.raises(ClientError, match=r"sdk/tasks/\?.*page=1.*incomplete answer"):
            list(client.tasks.all())


class HeldServer:
    """Pages from 2 on are held until the test releases them; it knows how many are
    held at once (requests in flight, as the server sees them)."""

    def __init__(self, total: int) -> None:
        self.total = total
        self.lock = threading.Condition()
        self.held = 0
        self.most = 0
        self.released = 0  # pages let through so far (from page 2)
        self.pages: list[int] = []

    def callback(self, request: Any) -> tuple[int, dict[str, str], str]:
        page = int(parse_qs(urlsplit(request.url).query)["page"][0])
        with self.lock:
            self.pages.append(page)
            if page > 1:
                self.held += 1
                self.most = max(self.most, self.held)
                self.lock.notify_all()
                self.lock.wait_for(lambda: self.released >= page - 1)
                self.held -= 1
        body = {"count": self.total, "previous": None, "results": [{"id": page}],
                "next": f"{LIST_URL}?page={page + 1}" if page < self.total else None}  # fmt: skip
        return 200, {}, json.dumps(body)

    def release_when_held(self, count: int, upto: int) -> None:
        """Wait until ``count`` requests are held, then let pages up to ``upto`` go."""
        with self.lock:
            self.lock.wait_for(lambda: self.held >= count, timeout=30)  # a hang guard
            self.released = max(self.released, upto - 1)
            self.lock.notify_all()


def test_the_window_widens_while_the_consumer_waits_and_never_passes_its_cap() -> None:
    server = HeldServer(total=40)
    with responses.RequestsMock() as mock, client_with(2, 1) as client:
        client.page_fetcher = ConcurrentFetcher(2, max_in_flight=5)
        mock.add_callback(responses.GET, LIST_URL, callback=server.callback)
        seen: list[int] = []
        consumer = threading.Thread(
            target=lambda: seen.extend(t.id for t in client.tasks.all().iterator())
        )
        consumer.start()
        # The consumer waits on page 2 each time: the window grows by one per wait,
        # so 3, then 4, then 5 requests come to be held at once, never 6.
        for held, page in ((3, 2), (4, 3), (5, 4)):
            server.release_when_held(held, page)
        server.release_when_held(5, 41)
        consumer.join(timeout=60)
    assert seen == list(range(1, 41))  # every item once, in order
    assert server.most == 5  # widened from 2 up to the cap, not past it
    assert sorted(server.pages) == list(range(1, 41))  # each page asked once


@settings(max_examples=30)
@given(
    total=st.integers(0, 80),
    page_size=st.integers(1, 7),
    start=st.integers(1, 4),
    extra=st.integers(0, 6),
    seed=st.integers(0, 10**6),
)
def test_an_adaptive_listing_is_exact_under_faults_within_its_cap(
    total: int, page_size: int, start: int, extra: int, seed: int
) -> None:
    log: list[int] = []
    counter = {"now": 0, "most": 0}
    guard = threading.Lock()
    inner = flaky_server(total, seed, 0.2, log)

    def counted(request: Any) -> tuple[int, dict[str, str], str]:
        with guard:
            counter["now"] += 1
            counter["most"] = max(counter["most"], counter["now"])
        try:
            return inner(request)  # type: ignore[no-any-return]
        finally:
            with guard:
                counter["now"] -= 1

    with responses.RequestsMock() as mock, client_with(start, page_size) as client:
        client.page_fetcher = ConcurrentFetcher(start, max_in_flight=start + extra)
        mock.add_callback(responses.GET, LIST_URL, callback=counted)
        ids = [t.id for t in client.tasks.all().iterator()]
    assert ids == list(range(1, total + 1))
    assert counter["most"] <= start + extra
