"""``qs.export(format, dest, ...)``: a task query streamed page by page into a dataset on
disk, media fetched in parallel through the content-addressed cache."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import unquote, urlsplit

from synapse.annotations import Document, media_type, natural_media_order
from synapse.errors import ClientError, InvalidInputError
from synapse.executors import check_executor, run_each
from synapse.training.cache import MediaCache
from synapse.training.classes import ClassRegistry, configured_classes, normalize_class
from synapse.training.formats import WRITERS, Writer
from synapse.training.items import Item
from synapse.training.report import ExportReport, Note
from synapse.training.splits import Split

__all__ = ["FORMATS", "export", "export_shard", "items_of_task"]

FORMATS = tuple(WRITERS)
_SUFFIX = re.compile(r"\.[A-Za-z0-9]{1,8}")


def export(
    query: Any,
    format: str,
    dest: str | os.PathLike[str],
    *,
    split: Split | Mapping[str, Any] | str | None = None,
    media: bool = True,
    cache: str | os.PathLike[str] | None = None,
    workers: int = 8,
    progress: bool | None = None,
    classes: Sequence[str] | Mapping[str, Any] | None = None,
    executor: Any = None,
    partitions: int | None = None,
) -> ExportReport:
    """Write the rows of ``query`` (a task or ground-truth event QuerySet) as a
    ``format`` dataset in ``dest`` (a new or empty folder) and return the report (also
    written as ``export_report.json``/``.csv``).

    ``format``: ``coco``, ``yolo`` (detect), ``yolo-segment``, ``yolo-pose``,
    ``yolo-obb``, ``voc`` or ``imagefolder``. ``split``: see
    [`Split`][synapse.training.splits.Split]. ``media=False`` writes the labels only.
    ``cache`` is the media cache folder (default: the SDK's cache). Every image of a data
    unit is exported, as ``<task id>_<media id><suffix>``. ``classes`` (names, or a
    project ``configuration``) fixes the first class ids; by default they come from the
    configuration of each task's project (rows without a project, such as ground-truth
    events, number their classes in lexical order unless given ``classes``).

    ``executor`` (a ``concurrent.futures`` executor or a ``dask.distributed.Client``)
    exports the query's ``partitions`` in parallel, each worker writing its shard into
    ``dest`` (which the workers must share); the shards are merged in order, so the files
    are the same bytes as a single-process export's.
    """
    if format not in WRITERS:
        raise InvalidInputError(f"unknown export format {format!r}; one of {', '.join(FORMATS)}")
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise InvalidInputError("workers must be a positive int")
    plan = Split.coerce(split)
    writer_class = WRITERS[format]
    given = _given_classes(classes, writer_class)
    root = Path(dest)
    if root.exists() and (not root.is_dir() or any(root.iterdir())):
        raise InvalidInputError(f"export destination must be a new or empty folder: {root}")
    if executor is not None:
        check_executor(executor)
        if plan.filters_:
            raise InvalidInputError("a sharded export splits by ratios or by a field, not filters")
    root.mkdir(parents=True, exist_ok=True)
    registry = ClassRegistry(given)
    writer = writer_class(root, plan.names, registry)
    report = ExportReport(
        format, root, images=dict.fromkeys(plan.names, 0), annotations=dict.fromkeys(plan.names, 0)
    )
    report.open()
    client = query._manager.client
    bar = _progress(query, progress)
    try:
        if executor is None:
            media_cache = MediaCache(client.transport, cache)
            projects = _process(_tasks(query, plan, report), writer, media_cache, media, workers,
                                report, bar)  # fmt: skip
        else:
            projects = _sharded(query, format, root, plan, media, cache, workers, executor,
                                partitions, writer, report, bar)  # fmt: skip
        if classes is None:
            for project in projects:
                configured = _configuration(client, project, writer_class)
                registry.configured.extend(c for c in configured if c not in registry.configured)
        writer.close()
    finally:
        report.close()
        if bar is not None:
            bar.close()
    report.classes = registry.names()
    report.files = writer.files
    report.write()
    return report


def _process(
    rows: Iterable[tuple[dict[str, Any], str]],
    writer: Writer,
    media_cache: MediaCache,
    media: bool,
    workers: int,
    report: ExportReport,
    bar: Any = None,
) -> list[int]:
    """Rows into the writer, a chunk at a time (media fetched in parallel, in order);
    the projects met, in the order first met."""
    projects: dict[int, None] = {}
    with ThreadPoolExecutor(max_workers=workers) as pool:
        for chunk in _chunks(rows, 64):
            for task, _ in chunk:
                if isinstance(task.get("project"), int):
                    projects.setdefault(task["project"], None)
            items = [i for task, name in chunk for i in items_of_task(task, name)]
            paths = [writer.media_path(item) for item in items]
            if media:
                fetched = pool.map(
                    lambda p: _fetch(media_cache, *p), zip(items, paths, strict=True)
                )
                for hit in fetched:
                    report.cached += hit is True
                    report.downloaded += hit is False
            for item, path in zip(items, paths, strict=True):
                if not item.name or path is None or (media and not path.exists()):
                    report.add(item.notes)
                    continue
                if media and not item.sized():
                    _read_size(item, path)
                written = writer.add(item)
                report.images[item.split] = report.images.get(item.split, 0) + 1
                report.annotations[item.split] = report.annotations.get(item.split, 0) + written
                report.add(item.notes)
            report.tasks += len(chunk)
            if bar is not None:
                bar.update(len(chunk))
    return list(projects)


def export_shard(
    query: Any,
    format: str,
    root: str,
    plan: Split,
    media: bool,
    cache: str | None,
    workers: int,
    shard: int,
) -> dict[str, Any]:
    """One partition of a sharded export, on a worker: its media into ``root`` (a
    folder every worker and the caller share), its labels and notes into shard files
    the caller merges in partition order. Module-level, so it pickles."""
    folder = Path(root)
    writer = WRITERS[format](folder, plan.names, ClassRegistry([]), shard=shard)
    report = ExportReport(format, folder)
    media_cache = MediaCache(query._manager.client.transport, cache)
    with (folder / f".notes-{shard:05d}.jsonl").open("w", encoding="utf-8") as sink:
        report._sink = sink
        rows = ((task, plan.of(task.get("id"), task)) for task in query.values())
        projects = _process(rows, writer, media_cache, media, workers, report)
    writer.finish_shard()
    return {
        "images": report.images, "annotations": report.annotations, "tasks": report.tasks,
        "downloaded": report.downloaded, "cached": report.cached, "projects": projects,
        "observed": sorted(writer.registry.observed),
    }  # fmt: skip


def _sharded(
    query: Any,
    format: str,
    root: Path,
    plan: Split,
    media: bool,
    cache: Any,
    workers: int,
    executor: Any,
    partitions: int | None,
    writer: Writer,
    report: ExportReport,
    bar: Any,
) -> list[int]:
    """Each partition of the query exported on ``executor``, then merged in partition
    order, so the files are the same bytes as a single-process export's."""
    base = _with_units(query)
    parts = base.partitions(partitions)
    cache_root = None if cache is None else str(cache)
    calls = [(p.query, format, str(root), plan, media, cache_root, workers, p.index)
             for p in parts]  # fmt: skip
    outcomes = run_each(executor, export_shard, calls)
    failed = next((error for _, error in outcomes if error is not None), None)
    projects: dict[int, None] = {}
    for index, (result, _) in enumerate(outcomes):
        notes = root / f".notes-{index:05d}.jsonl"
        if failed is None:
            writer.absorb(index)
            with notes.open(encoding="utf-8") as source:
                for line in source:
                    report.add([Note(**json.loads(line))])
            for name in result["observed"]:
                writer.registry.see(name)
            for split, count in result["images"].items():
                report.images[split] = report.images.get(split, 0) + count
            for split, count in result["annotations"].items():
                report.annotations[split] = report.annotations.get(split, 0) + count
            report.tasks += result["tasks"]
            report.downloaded += result["downloaded"]
            report.cached += result["cached"]
            projects.update(dict.fromkeys(result["projects"]))
            if bar is not None:
                bar.update(result["tasks"])
        notes.unlink(missing_ok=True)
    if failed is not None:
        raise failed
    return list(projects)


def _with_units(query: Any) -> Any:
    """Task rows with their data units (ground-truth events carry their files)."""
    return query.expand("data_unit") if query._manager.resource.__name__ == "Task" else query


def _given_classes(classes: Any, writer: type[Writer]) -> list[str]:
    if classes is None:
        return []
    if isinstance(classes, Mapping):
        return configured_classes(classes, writer.class_tools) or configured_classes(classes)
    if isinstance(classes, str) or not all(isinstance(c, str) for c in classes):
        raise InvalidInputError("classes is a list of class names or a project configuration")
    return [normalize_class(c) for c in classes]


def _tasks(query: Any, plan: Split, report: ExportReport) -> Iterator[tuple[dict[str, Any], str]]:
    """Each task (or ground-truth event) once, with its split."""
    has_unit = "data_unit" in getattr(query._manager, "relations", {"data_unit": None})
    base = (
        query.expand("data_unit")
        if has_unit and query._manager.resource.__name__ == "Task"
        else query
    )
    if not plan.filters_:
        for task in base.values():
            yield task, plan.of(task.get("id"), task)
        return
    seen: set[Any] = set()
    for name, filters in plan.filters_:
        for task in base.filter(**filters).values():
            if task.get("id") in seen:
                report.add(
                    [
                        Note(
                            "skipped",
                            "IN_TWO_SPLITS",
                            task.get("id"),
                            None,
                            None,
                            None,
                            f"already exported; also matches {name}",
                        )
                    ]
                )
                continue
            seen.add(task.get("id"))
            yield task, name


def _chunks(items: Iterable[Any], size: int) -> Iterator[list[Any]]:
    chunk: list[Any] = []
    for item in items:
        chunk.append(item)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _configuration(client: Any, project: int, writer: type[Writer]) -> list[str]:
    answer = client.transport.request("GET", f"projects/{project}/")
    configuration = answer.get("configuration") if isinstance(answer, Mapping) else None
    classes = configured_classes(configuration, writer.class_tools)
    if not classes:  # the flat shape may not name tools
        flat = configured_classes(configuration)
        classes = flat if writer.class_tools else []
    return classes


def items_of_task(task: Mapping[str, Any], split: str) -> list[Item]:
    """The images of a task's data unit, each with its annotations (all of them)."""
    task_id = task.get("id")
    if not isinstance(task_id, int):
        return []
    unit = task.get("data_unit")
    files = unit.get("files") if isinstance(unit, Mapping) else task.get("files")
    files = files if isinstance(files, Mapping) else {}
    items: list[Item] = []
    try:
        doc = Document.from_v1(task.get("data") if isinstance(task.get("data"), Mapping) else {})
    except InvalidInputError as exc:
        return [_broken(task_id, split, str(exc))]
    relations = doc.top.get("relations")
    images = [m for m in natural_media_order(list(files)) if media_type(m) == "image"]
    for media in images:
        entry: Mapping[str, Any] = files[media] if isinstance(files[media], Mapping) else {}
        meta: Mapping[str, Any] = entry["meta"] if isinstance(entry.get("meta"), Mapping) else {}
        extra: Mapping[str, Any] = doc.extra.get(media) or {}
        width = _dimension(meta.get("width")) or _dimension(extra.get("width"))
        height = _dimension(meta.get("height")) or _dimension(extra.get("height"))
        url = entry.get("url") if isinstance(entry.get("url"), str) else None
        item = Item(
            task=task_id,
            media=media,
            split=split,
            name=f"{task_id}_{media}{_suffix(entry, url)}",
            width=width,
            height=height,
            url=url,
            checksum=entry.get("checksum") if isinstance(entry.get("checksum"), str) else None,
            annotations=list(doc.annotations.get(media, [])),
            groups=doc.groups(media),
            relations=len(relations.get(media) or []) if isinstance(relations, Mapping) else 0,
        )
        items.append(item)
    for media, records in doc.annotations.items():
        if media not in images and records:
            reason = "MEDIA_NOT_IN_DATA_UNIT" if media_type(media) == "image" else "NOT_AN_IMAGE"
            holder = items[0] if items else _broken(task_id, split, "")
            for ann in records:
                holder.note("skipped", reason, ann, f"annotation of {media}")
            if not items:
                items.append(holder)
    return items


def _broken(task: int, split: str, why: str) -> Item:
    item = Item(task, "", split, "", None, None, None, None, [])
    if why:
        item.note("skipped", "INVALID_TASK_DATA", None, why)
    return item


def _dimension(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else None


def _suffix(entry: Mapping[str, Any], url: str | None) -> str:
    for candidate in (entry.get("file_name_original"), entry.get("path")):
        if isinstance(candidate, str):
            suffix = PurePosixPath(candidate).suffix
            if _SUFFIX.fullmatch(suffix):
                return suffix.lower()
    if url:
        suffix = PurePosixPath(unquote(urlsplit(url).path)).suffix
        if _SUFFIX.fullmatch(suffix):
            return suffix.lower()
    return ""


def _fetch(cache: MediaCache, item: Item, path: Path | None) -> bool | None:
    """The item's file at ``path``: True from the cache, False downloaded, None failed
    (noted) or nothing to fetch."""
    if path is None or not item.name:
        return None
    if item.url is None:
        item.note("skipped", "MEDIA_UNAVAILABLE", None, "the file has no URL")
        return None
    try:
        return cache.fetch(item.url, item.checksum, path)
    except (ClientError, OSError) as exc:
        item.note("skipped", "MEDIA_UNAVAILABLE", None, type(exc).__name__)
        return None


def _read_size(item: Item, path: Path) -> None:
    """The image size from the file (needs Pillow, ``synapse-orm[export]``)."""
    try:
        from PIL import Image
    except ImportError:
        return
    try:
        with Image.open(path) as image:
            item.width, item.height = image.size
    except OSError:
        item.note("lossy", "IMAGE_UNREADABLE", None, "its size is unknown")


def _progress(query: Any, progress: bool | None) -> Any:
    if not progress:
        return None
    from synapse.progress import progress_bar

    return progress_bar(query.count(), desc="export", unit="task")
