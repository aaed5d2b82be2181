"""100,000 tasks with 20 ms of backend latency: ``to_dask()`` on a LocalCluster of 2 and
4 worker processes, against single-process ``to_pandas()``, same server.

For all declared columns and for three, prints the time of ``to_pandas()`` and, on each
cluster (best of two), of reading every partition on the workers (the data stays there,
as in a pipeline that reduces or writes it out) and of gathering the whole frame back
into this process, each with its ratio to ``to_pandas()``. Latency-bound work spreads over the
workers; parsing is CPU work, so the machine's cores (shared with the server here) are
the limit: ``os.cpu_count()`` is printed too.

    python benchmarks/dask_scaling.py [--tasks 100000] [--latency 0.02] [--workers 2,4]
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _server import local_server

from synapse import Client

NARROW = ["id", "status_label", "created"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tasks", type=int, default=100_000)
    parser.add_argument("--latency", type=float, default=0.02)
    parser.add_argument("--workers", default="2,4")
    parser.add_argument("--pages-per-partition", type=int, default=10)
    args = parser.parse_args()
    from dask.distributed import Client as DaskClient
    from dask.distributed import LocalCluster

    serve = ("--tasks", str(args.tasks), "--latency", str(args.latency))
    with local_server(*serve, pinned=False) as server:  # workers and server share the cores
        client = Client(server.url, server.token)
        query = client.tasks.filter(project=server.big_project)
        pages = -(-args.tasks // client.page_size)
        partitions = -(-pages // args.pages_per_partition)
        print(f"{args.tasks:,} realistic tasks, {args.latency * 1000:.0f} ms latency, "
              f"{os.cpu_count()} cores, {partitions} partitions")  # fmt: skip
        for label, columns in (("all declared columns", None), ("3 columns", NARROW)):
            for _ in range(2):  # the server renders a page, then caches its rows
                query.to_pandas(columns, progress=False)
            started = time.perf_counter()
            single = query.to_pandas(columns, progress=False)
            alone = time.perf_counter() - started
            print(f"  {label}: to_pandas() in one process {alone:.2f}s")
            for workers in (int(w) for w in args.workers.split(",")):
                with (
                    LocalCluster(
                        n_workers=workers,
                        threads_per_worker=1,
                        dashboard_address=None,
                        silence_logs=logging.CRITICAL,  # no shutdown noise between figures
                    ) as cluster,
                    DaskClient(cluster),
                ):
                    query[:1].to_dask(1).compute()  # warm: the workers' imports
                    frame = query.to_dask(partitions, columns=columns)
                    on_workers = back = float("inf")
                    for _ in range(2):  # best of two, interleaved
                        started = time.perf_counter()
                        rows = frame.map_partitions(len).compute().sum()  # stays on workers
                        on_workers = min(on_workers, time.perf_counter() - started)
                        started = time.perf_counter()
                        gathered = frame.compute()  # the whole frame sent back here
                        back = min(back, time.perf_counter() - started)
                assert rows == len(gathered) == len(single) == args.tasks
                print(f"    to_dask() on {workers} workers: read on the workers {on_workers:.2f}s "
                      f"(ratio {on_workers / alone:.2f}); gathered here {back:.2f}s "
                      f"(ratio {back / alone:.2f})")  # fmt: skip


if __name__ == "__main__":
    main()
