"""Exporting tasks with media to a training set: ``qs.export("coco")`` and
``qs.export("yolo")`` against a hand-written ``requests`` + ``json`` script that downloads
the same images and writes a COCO file of the same boxes; then a second export served
from the media cache.

The local backend (seeded with ``seed_training``: two real PNGs and a DM v1 document of
every image tool per task) runs in its own process; each way runs in a fresh process and
prints its wall time and its peak resident memory growth over the process after imports.

    python benchmarks/export.py [--tasks 10000]
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

SERVER = """
import sys, time
from synapse.local.seed import seed_training
from synapse.local.server import LocalBackend
with LocalBackend() as server:
    ids = seed_training(server.backend, tasks=int(sys.argv[1]))
    print(server.url, server.token, ids["project"], flush=True)
    sys.stdin.read()
"""


def by_hand(url: str, token: str, project: int, dest: Path) -> None:
    """What one writes without the SDK: pages of tasks, each image fetched, one COCO file."""
    import requests

    session = requests.Session()
    session.headers["Synapse-Access-Token"] = f"Token {token}"
    images: list[dict[str, Any]] = []
    annotations: list[dict[str, Any]] = []
    names: dict[str, int] = {}
    (dest / "images").mkdir(parents=True)
    page: str | None = f"{url}/sdk/tasks/?project={project}&expand=data_unit&page_size=100"
    while page:
        body = session.get(page, timeout=60).json()
        for task in body["results"]:
            for media, entry in task["data_unit"]["files"].items():
                name = f"{task['id']}_{media}.png"
                content = session.get(entry["url"], timeout=60).content
                (dest / "images" / name).write_bytes(content)
                meta = entry["meta"]
                images.append({"id": len(images) + 1, "file_name": name,
                               "width": meta["width"], "height": meta["height"]})  # fmt: skip
                metas = {m["id"]: m for m in task["data"]["annotations"].get(media, [])}
                for record in task["data"]["annotationsData"].get(media, []):
                    if metas.get(record["id"], {}).get("tool") != "bounding_box":
                        continue
                    c = record["coordinate"]
                    label = metas[record["id"]]["classification"]["class"]
                    annotations.append({
                        "id": len(annotations) + 1, "image_id": len(images),
                        "category_id": names.setdefault(label, len(names) + 1),
                        "bbox": [c["x"], c["y"], c["width"], c["height"]],
                        "area": c["width"] * c["height"], "iscrowd": 0,
                    })  # fmt: skip
        page = body["next"]
    categories = [{"id": i, "name": n} for n, i in names.items()]
    document = {"images": images, "annotations": annotations, "categories": categories}
    (dest / "instances.json").write_text(json.dumps(document))


def run_one(way: str, url: str, token: str, project: int, dest: Path, cache: Path) -> None:
    """One way, in this (fresh) process: prints ``seconds peak_rss_growth_bytes``."""
    import requests  # noqa: F401 - imported before the baseline, as the SDK's way does

    from synapse import Client

    client = Client(url, token)
    tasks = client.tasks.filter(project=project)
    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    start = time.perf_counter()
    if way == "hand":
        by_hand(url, token, project, dest)
    else:
        tasks.export(way, dest, cache=cache)
    elapsed = time.perf_counter() - start
    grown = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - base) * 1024
    print(f"{elapsed} {grown}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tasks", type=int, default=10_000)
    parser.add_argument("--one", nargs=6, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        way, url, token, project, dest, cache = args.one
        run_one(way, url, token, int(project), Path(dest), Path(cache))
        return
    work = Path(tempfile.mkdtemp(prefix="synapse-export-bench-"))
    server = subprocess.Popen([sys.executable, "-c", SERVER, str(args.tasks)],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)  # fmt: skip
    try:
        start = time.perf_counter()
        assert server.stdout is not None
        url, token, project = server.stdout.readline().split()
        print(f"seeded {args.tasks} tasks ({2 * args.tasks} PNG images, DM v1 with every image "
              f"tool) in {time.perf_counter() - start:.1f} s")  # fmt: skip
        cache = work / "cache"
        figures: dict[str, float] = {}
        for label, way in (
            ("requests + json (COCO of the boxes)", "hand"),
            ("qs.export('coco'), empty cache", "coco"),
            ("qs.export('yolo'), warm cache", "yolo"),
            ("qs.export('coco'), warm cache", "coco"),
        ):
            dest = work / f"{way}-{len(figures)}"
            out = subprocess.run(
                [sys.executable, __file__, "--one", way, url, token, project, str(dest),
                 str(cache)],
                capture_output=True, text=True, check=True,
            ).stdout.split()  # fmt: skip
            seconds, grown = float(out[0]), int(out[1])
            figures[label] = seconds
            print(f"{label:<38} {seconds:8.2f} s   peak RSS growth {grown / 2**20:7.1f} MiB")
        hand = figures["requests + json (COCO of the boxes)"]
        cold = figures["qs.export('coco'), empty cache"] / hand
        warm = figures["qs.export('coco'), warm cache"] / hand
        print(f"export / hand-written: {cold:.2f}x with an empty cache, {warm:.2f}x from the cache")
    finally:
        if server.stdin is not None:
            server.stdin.close()
        try:
            server.wait(60)  # the backend removes its 20,000 files as it stops
        except subprocess.TimeoutExpired:
            server.terminate()
            server.wait(30)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
