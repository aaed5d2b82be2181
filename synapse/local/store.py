"""State of the local backend: JSON documents in SQLite, uploaded bytes as files.

Every kind of object lives in a table of its own, ``(id INTEGER PRIMARY KEY, body TEXT)``,
with the object's fields as a JSON document. Filters read fields with ``json_extract``;
the fields that big listings filter on get an expression index.
"""

from __future__ import annotations

import bisect
import json
import sqlite3
import threading
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from synapse.local.kinds import KINDS, Kind

__all__ = ["Query", "Store", "now_iso"]


def now_iso() -> str:
    """The current UTC time as the backend writes it: ISO 8601 with ``Z``."""
    return datetime.now(timezone.utc).isoformat(timespec="microseconds").replace("+00:00", "Z")


class Query:
    """A WHERE clause with its parameters, built up by the filter parser."""

    def __init__(self) -> None:
        self.clauses: list[str] = []
        self.params: list[Any] = []
        self.order: list[str] = []
        #: ``id__gt``-style bounds, kept apart: a keyset walk asks the same question with a
        #: new bound on every page, answered from the cached id list of the question.
        self.id_bounds: list[tuple[str, int]] = []
        #: Other tables the clauses read (joined filters): their changes matter too.
        self.depends: set[str] = set()

    def where(self, clause: str, *params: Any) -> None:
        self.clauses.append(clause)
        self.params.extend(params)

    def sql(self) -> str:
        return " AND ".join(self.clauses) if self.clauses else "1"

    def sql_with_bounds(self) -> tuple[str, list[Any]]:
        """The WHERE clause with the id bounds in it, for a query asked straight of SQL."""
        ops = {"gt": ">", "gte": ">=", "lt": "<", "lte": "<="}
        clauses = [*self.clauses, *(f"id {ops[op]} ?" for op, _ in self.id_bounds)]
        params = [*self.params, *(value for _, value in self.id_bounds)]
        return (" AND ".join(clauses) if clauses else "1"), params


class Store:
    """The database: one connection, guarded by a lock, used from the server's threads."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path
        target = str(path) if path else ":memory:"
        self.db = sqlite3.connect(target, check_same_thread=False, isolation_level=None)
        self.lock = threading.RLock()
        # The ordered ids of recent list queries, per table: every page of a listing asks
        # for a count and an offset, which SQLite answers by scanning; a list of ids
        # answers both at once. Dropped when the table changes.
        self._id_lists: dict[str, OrderedDict[tuple[Any, ...], list[int]]] = {}
        self._versions: dict[str, int] = {}
        if path:
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA synchronous=NORMAL")
        self._create()

    def version(self, kind: Kind) -> int:
        """A number that changes whenever the kind's table changes (for caches)."""
        return self._versions.get(kind.table, 0) + self._versions.get("*", 0)

    def _changed(self, table: str | None = None) -> None:
        if table is None:
            self._id_lists.clear()
            self._versions = {t: v + 1 for t, v in self._versions.items()}
            self._versions["*"] = self._versions.get("*", 0) + 1
        else:
            self._id_lists.pop(table, None)
            self._versions[table] = self._versions.get(table, 0) + 1

    def _create(self) -> None:
        with self.lock:
            for kind in KINDS.values():
                self.db.execute(
                    f"CREATE TABLE IF NOT EXISTS {kind.table} "
                    "(id INTEGER PRIMARY KEY AUTOINCREMENT, body TEXT NOT NULL)"
                )
                for field in kind.indexed:
                    self.db.execute(
                        f"CREATE INDEX IF NOT EXISTS {kind.table}_{field} "
                        f"ON {kind.table}(json_extract(body, '$.{field}'), id)"
                    )
            self.db.execute(
                "CREATE TABLE IF NOT EXISTS chunked_uploads (id TEXT PRIMARY KEY, body TEXT)"
            )

    def reset(self) -> None:
        """Drop every object (the request log and files are the server's business)."""
        with self.lock:
            for kind in KINDS.values():
                self.db.execute(f"DELETE FROM {kind.table}")
            self.db.execute("DELETE FROM chunked_uploads")
            self.db.execute("DELETE FROM sqlite_sequence")
            self._changed()

    def close(self) -> None:
        with self.lock:
            self.db.close()

    # -- documents

    def insert(self, kind: Kind, body: dict[str, Any], pk: int | None = None) -> dict[str, Any]:
        """Store a new document; its id is the next free one, or ``pk`` when given."""
        body = {k: v for k, v in body.items() if k != "id"}
        with self.lock:
            cursor = self.db.execute(
                f"INSERT INTO {kind.table} (id, body) VALUES (?, ?)", (pk, json.dumps(body))
            )
            self._changed(kind.table)
        return {"id": cursor.lastrowid, **body}

    def insert_many(self, kind: Kind, bodies: Iterable[dict[str, Any]]) -> None:
        """Store many documents in one transaction; a body may name its ``id``."""
        with self.lock:
            self.db.execute("BEGIN")
            self.db.executemany(
                f"INSERT INTO {kind.table} (id, body) VALUES (?, ?)",
                ((b.get("id"), json.dumps({k: v for k, v in b.items() if k != "id"}))
                 for b in bodies),
            )  # fmt: skip
            self.db.execute("COMMIT")
            self._changed(kind.table)

    def next_id(self, kind: Kind) -> int:
        """The id the next inserted document of this kind gets."""
        with self.lock:
            row = self.db.execute(
                "SELECT MAX(COALESCE((SELECT seq FROM sqlite_sequence WHERE name = ?), 0),"
                f" COALESCE((SELECT MAX(id) FROM {kind.table}), 0))",
                (kind.table,),
            ).fetchone()
        return int(row[0]) + 1

    def get(self, kind: Kind, pk: int) -> dict[str, Any] | None:
        with self.lock:
            row = self.db.execute(
                f"SELECT id, body FROM {kind.table} WHERE id = ?", (pk,)
            ).fetchone()
        return _doc(row) if row else None

    def get_many(self, kind: Kind, pks: Sequence[int]) -> dict[int, dict[str, Any]]:
        if not pks:
            return {}
        marks = ",".join("?" * len(pks))
        with self.lock:
            rows = self.db.execute(
                f"SELECT id, body FROM {kind.table} WHERE id IN ({marks})", list(pks)
            ).fetchall()
        return {row[0]: _doc(row) for row in rows}

    def find(self, kind: Kind, field: str, value: Any) -> dict[str, Any] | None:
        """The first object whose ``field`` is ``value``; a value that is not a scalar
        (a list or an object sent where text belongs) matches nothing."""
        if not isinstance(value, (str, int, float)):
            return None
        if isinstance(value, str) and not value.isascii():
            try:
                value.encode("utf-8")
            except UnicodeEncodeError:  # a lone surrogate (JSON allows it): matches nothing
                return None
        with self.lock:
            row = self.db.execute(
                f"SELECT id, body FROM {kind.table} WHERE json_extract(body, ?) = ? LIMIT 1",
                (f"$.{field}", value),
            ).fetchone()
        return _doc(row) if row else None

    def save(self, kind: Kind, doc: dict[str, Any]) -> dict[str, Any]:
        body = {k: v for k, v in doc.items() if k != "id"}
        with self.lock:
            self.db.execute(
                f"UPDATE {kind.table} SET body = ? WHERE id = ?", (json.dumps(body), doc["id"])
            )
            self._changed(kind.table)
        return doc

    def delete(self, kind: Kind, pk: int) -> bool:
        with self.lock:
            cursor = self.db.execute(f"DELETE FROM {kind.table} WHERE id = ?", (pk,))
            self._changed(kind.table)
        return cursor.rowcount > 0

    def _ids(self, kind: Kind, query: Query) -> list[int]:
        """The ids matching a query, in order: the cached list of the query without its id
        bounds, cut to the bounds (by bisection when it is in id order)."""
        ids = self._unbounded_ids(kind, query)
        for op, value in query.id_bounds:
            if query.order in ([], ["id ASC"]):
                cut = (bisect.bisect_right if op in ("gt", "lte") else bisect.bisect_left)(
                    ids, value
                )
                ids = ids[cut:] if op in ("gt", "gte") else ids[:cut]
            else:
                keep = {
                    "gt": value.__lt__, "gte": value.__le__,
                    "lt": value.__gt__, "lte": value.__ge__,
                }[op]  # fmt: skip
                ids = [pk for pk in ids if keep(pk)]
        return ids

    def _unbounded_ids(self, kind: Kind, query: Query) -> list[int]:
        """The ids matching a query's clauses, in order (cached until the table changes)."""
        versions = tuple(self._versions.get(t, 0) for t in sorted(query.depends))
        key = (query.sql(), tuple(query.params), tuple(query.order), versions)
        with self.lock:
            recent = self._id_lists.setdefault(kind.table, OrderedDict())
            ids = recent.get(key)
            if ids is None:
                order = ", ".join([*query.order, "id"])
                ids = [
                    row[0]
                    for row in self.db.execute(
                        f"SELECT id FROM {kind.table} WHERE {query.sql()} ORDER BY {order}",
                        query.params,
                    )
                ]
                recent[key] = ids
                if len(recent) > 16:
                    recent.popitem(last=False)
            else:
                recent.move_to_end(key)
            return ids

    def count(self, kind: Kind, query: Query) -> int:
        """How many objects match."""
        return len(self._ids(kind, query))

    def select(self, kind: Kind, query: Query, *, limit: int, offset: int) -> list[dict[str, Any]]:
        """One page of matching objects, in the query's order."""
        wanted = self.select_ids(kind, query, limit=limit, offset=offset)
        found = self.get_many(kind, wanted)
        return [found[pk] for pk in wanted if pk in found]

    def select_ids(self, kind: Kind, query: Query, *, limit: int, offset: int) -> list[int]:
        """The ids of one page of matching objects, in the query's order."""
        return self._ids(kind, query)[offset : offset + limit]

    def select_first_ids(self, kind: Kind, query: Query, *, limit: int) -> list[int]:
        """The ids of the first ``limit`` matching objects, straight from SQL (no cached
        id list: each cursor page asks a different question)."""
        order = ", ".join([*query.order, "id"])
        where, params = query.sql_with_bounds()
        with self.lock:
            rows = self.db.execute(
                f"SELECT id FROM {kind.table} WHERE {where} ORDER BY {order} LIMIT ?",
                [*params, limit],
            ).fetchall()
        return [int(row[0]) for row in rows]

    # -- chunked uploads (string ids)

    def get_upload(self, upload_id: str) -> dict[str, Any] | None:
        with self.lock:
            row = self.db.execute(
                "SELECT body FROM chunked_uploads WHERE id = ?", (upload_id,)
            ).fetchone()
        return dict(json.loads(row[0])) if row else None

    def put_upload(self, upload: dict[str, Any]) -> None:
        with self.lock:
            self.db.execute(
                "INSERT OR REPLACE INTO chunked_uploads (id, body) VALUES (?, ?)",
                (upload["id"], json.dumps(upload)),
            )


def _doc(row: tuple[int, str]) -> dict[str, Any]:
    return {"id": row[0], **json.loads(row[1])}
