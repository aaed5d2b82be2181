"""Exporting tasks with media: ``qs.export("coco")`` and ``qs.export("yolo")`` against a
hand-written ``requests`` + ``json`` script that downloads the same images and writes a
COCO file of the same boxes; then a second export served from the media cache. Prints
wall times and the peak of Python allocations during each export (tracemalloc).

The local backend runs in this process (a background thread), the same for every way.

    python benchmarks/export.py [--tasks 10000]
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

import requests

from synapse import Client
from synapse.local.seed import seed_training
from synapse.local.server import LocalBackend


def by_hand(url: str, token: str, project: int, dest: Path) -> None:
    """What one writes without the SDK: pages of tasks, each image fetched, one COCO file."""
    session = requests.Session()
    session.headers["Authorization"] = f"Token {token}"
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
                (dest / "images" / name).write_bytes(session.get(entry["url"], timeout=60).content)
                images.append(
                    {
                        "id": len(images) + 1,
                        "file_name": name,
                        "width": entry["meta"]["width"],
                        "height": entry["meta"]["height"],
                    }
                )
                data = task["data"]["annotationsData"].get(media, [])
                metas = {m["id"]: m for m in task["data"]["annotations"].get(media, [])}
                for record in data:
                    meta = metas.get(record["id"], {})
                    if meta.get("tool") != "bounding_box":
                        continue
                    c = record["coordinate"]
                    label = meta["classification"]["class"]
                    annotations.append(
                        {
                            "id": len(annotations) + 1,
                            "image_id": len(images),
                            "category_id": names.setdefault(label, len(names) + 1),
                            "bbox": [c["x"], c["y"], c["width"], c["height"]],
                            "area": c["width"] * c["height"],
                            "iscrowd": 0,
                        }
                    )
        page = body["next"]
    categories = [{"id": i, "name": n} for n, i in names.items()]
    (dest / "instances.json").write_text(
        json.dumps({"images": images, "annotations": annotations, "categories": categories})
    )


def measure(label: str, run: Callable[[], Any]) -> float:
    tracemalloc.start()
    start = time.perf_counter()
    run()
    elapsed = time.perf_counter() - start
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    print(f"{label:<38} {elapsed:8.2f} s   peak Python memory {peak / 2**20:7.1f} MiB")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tasks", type=int, default=10_000)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="synapse-export-bench-"))
    try:
        with LocalBackend() as server:
            start = time.perf_counter()
            project = seed_training(server.backend, tasks=args.tasks)["project"]
            print(
                f"seeded {args.tasks} tasks ({2 * args.tasks} PNG images) in "
                f"{time.perf_counter() - start:.1f} s"
            )
            with Client(server.url, server.token) as client:
                tasks = client.tasks.filter(project=project)
                cache = work / "cache"
                hand = measure(
                    "requests + json (COCO, boxes only)",
                    lambda: by_hand(server.url, server.token, project, work / "hand"),
                )
                coco = measure(
                    "qs.export('coco'), empty cache",
                    lambda: tasks.export("coco", work / "coco", cache=cache),
                )
                measure(
                    "qs.export('yolo'), warm cache",
                    lambda: tasks.export("yolo", work / "yolo", cache=cache),
                )
                again = measure(
                    "qs.export('coco'), warm cache",
                    lambda: tasks.export("coco", work / "coco2", cache=cache),
                )
                print(f"export/hand-written: {coco / hand:.2f}x cold, {again / hand:.2f}x cached")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
