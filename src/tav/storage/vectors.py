"""Vector collections in the database: ``VectorStore`` implements ``VectorStores``.

A collection is a row of ``vector_collections`` (its dimension is fixed by its first
record) and its records are rows of ``vector_documents``: id, text, metadata (JSON) and
the vector as float32 little-endian bytes, the format sqlite-vec reads.

Search is exact (brute force), ranked by cosine similarity:

- SQLite with sqlite-vec (``tav.storage.sqlite``): in SQL, ``vec_distance_cosine`` over
  the collection's rows in C, with metadata filters as ``json_extract(meta, '$."key"')
  = :value`` in the same statement. About 12 ms for 10,000 vectors of 384 dimensions on
  one core (``bench/vectors.py``); the statement runs in the event loop's thread, like
  every SQLite call here (``tav.storage.inline_sqlite``).
- PostgreSQL (no pgvector), or a SQLite without sqlite-vec: the same rows, filtered and
  ranked in Python in a worker thread; fine for collections of a few thousand records.
  A large collection on PostgreSQL wants pgvector's index (not built).

Rejected: a sqlite-vec ``vec0`` virtual table per collection. Its KNN is also a full
scan at this version (measured no faster than the plain statement), it needs a table
kept in step with ``vector_documents`` and one per dimension, and filtering on arbitrary
metadata keys does not fit its declared metadata columns.
"""

from __future__ import annotations

import asyncio
import heapq
import json
import math
import operator
import sys
from array import array
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import LargeBinary, bindparam, delete, func, select, text
from sqlalchemy.exc import OperationalError

from tav.core.errors import NodeError
from tav.core.events import utcnow
from tav.nodes.ai import VectorMatch, VectorRecord
from tav.storage.db import Database
from tav.storage.models import VectorCollectionRow, VectorDocumentRow
from tav.storage.upsert import upsert

MAX_NAME = 200
"""Longest collection name and record id (the columns' size)."""
DELETE_CHUNK = 500
FILTER_TYPES = (str, int, float, bool, type(None))


class VectorStoreError(NodeError):
    """A request the vector store refuses (retrying cannot help): a vector of the wrong
    size, an unknown collection, a bad filter."""

    type = "vector_store_error"
    retryable = False


@dataclass(frozen=True, slots=True)
class CollectionInfo:
    name: str
    dimension: int
    count: int
    created_at: datetime


class VectorStore:
    """Named collections of texts, vectors and metadata in the database."""

    def __init__(self, db: Database, *, rank_in_python: bool = False) -> None:
        """``rank_in_python``: never search in SQL, even with sqlite-vec (for comparison)."""
        self.db = db
        self._native: bool | None = False if rank_in_python else None

    # -- writing ---------------------------------------------------------------------------

    async def upsert(self, collection: str, records: list[VectorRecord]) -> int:
        """Insert or replace records by id (one transaction); returns how many were
        written. The last of several records with one id wins."""
        _check_name(collection, "collection name")
        unique = {record.id: record for record in records}
        if not unique:
            return 0
        for record_id in unique:
            _check_name(record_id, "record id")
        async with self.db.transaction() as session:
            dimension = await self._dimension(session, collection, records[0])
            rows = [_row(collection, record, dimension) for record in unique.values()]
            keys, columns = ("collection", "doc_id"), ("text", "meta", "embedding")
            await session.execute(upsert(self.db.dialect, VectorDocumentRow, keys, columns), rows)
        return len(rows)

    async def _dimension(self, session: Any, collection: str, first: VectorRecord) -> int:
        """The collection's dimension, creating the collection with ``first``'s."""
        if not first.vector:
            raise VectorStoreError("an empty vector cannot be stored", type="vector_invalid")
        row = {"name": collection, "dimension": len(first.vector), "created_at": utcnow()}
        await session.execute(upsert(self.db.dialect, VectorCollectionRow, ("name",)), [row])
        statement = select(VectorCollectionRow.dimension).where(
            VectorCollectionRow.name == collection
        )
        dimension: int = (await session.execute(statement)).scalar_one()
        return dimension

    async def delete(self, collection: str, ids: list[str] | None = None) -> int:
        """Delete records by id, or the whole collection when ``ids`` is None; returns how
        many records were deleted."""
        doc = VectorDocumentRow
        in_collection = doc.collection == collection
        deleted = 0
        async with self.db.transaction() as session:
            if ids is None:
                deleted = _count(await session.execute(delete(doc).where(in_collection)))
                await session.execute(
                    delete(VectorCollectionRow).where(VectorCollectionRow.name == collection)
                )
                return deleted
            for chunk in _chunks(sorted(set(ids)), DELETE_CHUNK):
                statement = delete(doc).where(in_collection, doc.doc_id.in_(chunk))
                deleted += _count(await session.execute(statement))
        return deleted

    # -- reading ---------------------------------------------------------------------------

    async def search(
        self,
        collection: str,
        vector: list[float],
        *,
        k: int = 4,
        where: dict[str, Any] | None = None,
    ) -> list[VectorMatch]:
        """The ``k`` records nearest ``vector`` by cosine similarity, best first; ``where``
        keeps records whose metadata has each key equal to the value (``None``: the key is
        missing or null)."""
        where = dict(where or {})
        for key, value in where.items():
            _check_filter(key, value)
        info = await self.collection(collection)
        if info is None:
            raise VectorStoreError(
                f"no vector collection {collection!r} (upserting records creates it)",
                type="collection_not_found",
            )
        if len(vector) != info.dimension:
            raise _mismatch(collection, info.dimension, len(vector))
        if k < 1:
            return []
        if await self.native_search():
            return await self._search_sql(collection, vector, k, where)
        return await self._search_python(collection, vector, k, where)

    async def _search_sql(
        self, collection: str, vector: list[float], k: int, where: dict[str, Any]
    ) -> list[VectorMatch]:
        doc = VectorDocumentRow
        query = bindparam("query", pack(vector), type_=LargeBinary)
        distance = func.coalesce(func.vec_distance_cosine(doc.embedding, query), 1.0)
        statement = select(doc.doc_id, doc.text, doc.meta, distance.label("distance")).where(
            doc.collection == collection
        )
        for key, value in where.items():
            extracted = func.json_extract(doc.meta, _json_path(key))
            statement = statement.where(
                extracted.is_(None) if value is None else extracted == value
            )
        statement = statement.order_by(text("distance"), doc.rowid).limit(k)
        async with self.db.session() as session:
            rows = (await session.execute(statement)).all()
        return [
            VectorMatch(id=row.doc_id, text=row.text, score=1.0 - row.distance, metadata=row.meta)
            for row in rows
        ]

    async def _search_python(
        self, collection: str, vector: list[float], k: int, where: dict[str, Any]
    ) -> list[VectorMatch]:
        doc = VectorDocumentRow
        statement = (
            select(doc.doc_id, doc.text, doc.meta, doc.embedding)
            .where(doc.collection == collection)
            .order_by(doc.rowid)
        )
        async with self.db.session() as session:
            rows = (await session.execute(statement)).all()
        return await asyncio.to_thread(_rank, rows, vector, k, where)

    async def native_search(self) -> bool:
        """Whether search runs in SQL (SQLite with sqlite-vec loaded)."""
        if self._native is None:
            self._native = self.db.is_sqlite and await self.sqlite_vec_version() is not None
        return self._native

    async def sqlite_vec_version(self) -> str | None:
        """sqlite-vec's version in this database's connections, None when not loaded."""
        if not self.db.is_sqlite:
            return None
        try:
            async with self.db.session() as session:
                version: str = (await session.execute(text("SELECT vec_version()"))).scalar_one()
        except OperationalError:
            return None
        return version

    async def collection(self, name: str) -> CollectionInfo | None:
        found = await self._collections(VectorCollectionRow.name == name)
        return found[0] if found else None

    async def collections(self) -> list[CollectionInfo]:
        """Every collection, by name, with its dimension and number of records."""
        return await self._collections()

    async def _collections(self, *conditions: Any) -> list[CollectionInfo]:
        coll, doc = VectorCollectionRow, VectorDocumentRow
        records = func.count().label("records")
        counts = select(doc.collection, records).group_by(doc.collection).subquery()
        statement = (
            select(coll.name, coll.dimension, coll.created_at, counts.c.records)
            .outerjoin(counts, counts.c.collection == coll.name)
            .where(*conditions)
            .order_by(coll.name)
        )
        async with self.db.session() as session:
            rows = (await session.execute(statement)).all()
        return [CollectionInfo(r.name, r.dimension, r.records or 0, r.created_at) for r in rows]


# -- vectors ---------------------------------------------------------------------------------


def pack(vector: Sequence[float]) -> bytes:
    """A vector as float32 little-endian bytes (sqlite-vec's ``serialize_float32``)."""
    values = array("f", vector)
    if sys.byteorder == "big":
        values.byteswap()
    return values.tobytes()


def unpack(blob: bytes) -> array[float]:
    values = array("f")
    values.frombytes(blob)
    if sys.byteorder == "big":
        values.byteswap()
    return values


def cosine(a: Sequence[float], b: Sequence[float]) -> float:
    """Cosine similarity; 0 when either vector is all zeros."""
    return _similarity(a, _norm(a), b)


def _norm(vector: Sequence[float]) -> float:
    return math.sqrt(sum(map(operator.mul, vector, vector)))


def _similarity(query: Sequence[float], query_norm: float, other: Sequence[float]) -> float:
    norms = query_norm * _norm(other)
    return sum(map(operator.mul, query, other)) / norms if norms else 0.0


def _rank(
    rows: Iterable[Any], vector: list[float], k: int, where: dict[str, Any]
) -> list[VectorMatch]:
    query = unpack(pack(vector))  # float32, as stored, so both backends score alike
    query_norm = _norm(query)
    scored = [
        (_similarity(query, query_norm, unpack(row.embedding)), index, row)
        for index, row in enumerate(rows)
        if all(row.meta.get(key) == value for key, value in where.items())
    ]
    best = heapq.nsmallest(k, scored, key=lambda item: (-item[0], item[1]))
    return [
        VectorMatch(id=row.doc_id, text=row.text, score=score, metadata=row.meta)
        for score, _, row in best
    ]


def _row(collection: str, record: VectorRecord, dimension: int) -> dict[str, Any]:
    if len(record.vector) != dimension:
        raise _mismatch(collection, dimension, len(record.vector), record.id)
    return {
        "collection": collection,
        "doc_id": record.id,
        "text": record.text,
        "meta": record.metadata,
        "embedding": pack(record.vector),
    }


def _mismatch(collection: str, expected: int, got: int, record: str | None = None) -> NodeError:
    which = f"record {record!r} has" if record is not None else "the query vector has"
    return VectorStoreError(
        f"vector collection {collection!r} holds vectors of {expected} dimensions, but "
        f"{which} {got}; use the same embedding model for a collection (or a new collection)",
        type="vector_dimension_mismatch",
    )


# -- checks ----------------------------------------------------------------------------------


def _check_name(name: str, what: str) -> None:
    if not name or len(name) > MAX_NAME:
        raise VectorStoreError(
            f"a {what} has 1 to {MAX_NAME} characters, got {len(name)}", type="vector_invalid"
        )


def _check_filter(key: str, value: Any) -> None:
    if not key or '"' in key:
        raise VectorStoreError(
            f"a metadata filter key is a non-empty name without '\"', got {key!r}",
            type="vector_invalid",
        )
    if not isinstance(value, FILTER_TYPES):
        raise VectorStoreError(
            f"metadata filter {key!r}: compare with a string, number, boolean or null, "
            f"not {json.dumps(value)[:80]}",
            type="vector_invalid",
        )


def _json_path(key: str) -> str:
    return f'$."{key}"'


def _count(result: Any) -> int:
    """Rows a DELETE touched (``CursorResult.rowcount``)."""
    return int(result.rowcount)


def _chunks(items: list[str], size: int) -> Iterable[list[str]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]
