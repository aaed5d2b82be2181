"""One listing in a fresh process, for ``throughput.py``: ``python _lister.py WAY URL TOKEN
PROJECT PAGE_SIZE`` prints one JSON line.

Times count from this script's first line, before any import, so ``import`` and building
the first object are part of them (the interpreter's own start is measured by the parent).
Then a second listing's first item is timed from its start (``warm_first``: the page's
round trip and the first object, everything already loaded).
``WAY`` is ``requests`` (plain ``requests`` following ``next``), ``synapse``
(``client.tasks.filter(project=...).iterator()``) or ``old`` (the old package's
``BackendClient.list_tasks(list_all=True)``). Only the standard library is imported
before the way's own imports.
"""

import time

STARTED = time.perf_counter()

import hashlib  # noqa: E402
import json  # noqa: E402
import resource  # noqa: E402
import sys  # noqa: E402
from collections.abc import Iterator  # noqa: E402
from typing import Any  # noqa: E402


def plain(url: str, token: str, project: int, page_size: int) -> Iterator[int]:
    import requests

    session = requests.Session()
    session.headers["Synapse-Access-Token"] = f"Token {token}"
    next_url: str | None = f"{url}/sdk/tasks/?project={project}&page_size={page_size}"
    while next_url:
        response = session.get(next_url, timeout=60)
        response.raise_for_status()
        body = response.json()
        for item in body["results"]:
            yield item["id"]
        next_url = body["next"]


def ours(url: str, token: str, project: int, page_size: int) -> Iterator[int]:
    from synapse import Client

    client = Client(url, token, page_size=page_size)
    for task in client.tasks.filter(project=project).iterator():
        yield task.id


def old(url: str, token: str, project: int, page_size: int) -> Iterator[int]:
    from synapse_sdk.clients.backend import BackendClient

    client = BackendClient(url, access_token=token)
    items, _count = client.list_tasks(
        params={"project": project, "page_size": page_size}, list_all=True
    )
    for item in items:
        yield item["id"]


WAYS = {"requests": plain, "synapse": ours, "old": old}


def main() -> None:
    way, url, token, project, page_size = sys.argv[1:6]
    digest = hashlib.sha256()
    first: float | None = None
    count = 0
    for item_id in WAYS[way](url, token, int(project), int(page_size)):
        if first is None:
            first = time.perf_counter() - STARTED
        digest.update(b"%d," % item_id)
        count += 1
    seconds = time.perf_counter() - STARTED
    again = time.perf_counter()  # a second listing, everything loaded: its first item
    next(iter(WAYS[way](url, token, int(project), int(page_size))))
    result: dict[str, Any] = {
        "seconds": seconds,
        "first": first,
        "warm_first": time.perf_counter() - again,
        "count": count,
        "ids": digest.hexdigest(),
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
