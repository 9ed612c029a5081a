"""VectorStore on SQLite (sqlite-vec loaded) and on PostgreSQL (ranked in Python)."""

from __future__ import annotations

import random
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy.exc import IntegrityError

from tav.core.events import utcnow
from tav.nodes.ai import VectorRecord
from tav.storage import sqlite
from tav.storage.db import Database
from tav.storage.models import VariableRow
from tav.storage.vectors import VectorStore, VectorStoreError, cosine, pack, unpack
from tests.unit.storage.databases import migrated


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[Database]:
    async with migrated(database_url, empty="vector_collections, vector_documents") as database:
        yield database


@pytest.fixture
def store(db: Database) -> VectorStore:
    return VectorStore(db)


def rec(record_id: str, vector: list[float], text_: str = "", **metadata: object) -> VectorRecord:
    return VectorRecord(id=record_id, text=text_ or record_id, vector=vector, metadata=metadata)


# -- the SQLite module and sqlite-vec ---------------------------------------------------------


async def test_sqlite_loads_sqlite_vec_and_searches_in_sql(sqlite_store: VectorStore):
    assert await sqlite_store.sqlite_vec_version() == "v0.1.9"
    assert await sqlite_store.native_search()


def test_the_sqlite_module_in_use_can_load_extensions():
    import aiosqlite

    assert sys.modules["sqlite3"] is sqlite.sqlite3
    assert hasattr(sqlite.sqlite3.Connection, "enable_load_extension")
    assert aiosqlite.IntegrityError is sqlite.sqlite3.IntegrityError


async def test_sqlalchemy_recognises_the_errors_of_the_sqlite_module_in_use(tmp_path: Path):
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'tav.db'}")
    try:
        await db.migrate()
        row = {"name": "x", "value": 1, "updated_at": utcnow()}
        async with db.transaction() as session:
            session.add(VariableRow(**row))
        with pytest.raises(IntegrityError):
            async with db.transaction() as session:
                session.add(VariableRow(**row))
    finally:
        await db.close()


async def test_postgresql_ranks_in_python(db: Database, store: VectorStore):
    assert await store.native_search() is db.is_sqlite


def test_vectors_are_float32_little_endian():
    assert pack([1.0, -2.5]) == b"\x00\x00\x80\x3f\x00\x00\x20\xc0"
    assert list(unpack(pack([0.5, 0.25]))) == [0.5, 0.25]


# -- upsert and search -------------------------------------------------------------------------


async def test_search_ranks_by_cosine_similarity_best_first(store: VectorStore):
    await store.upsert(
        "docs",
        [
            rec("east", [1, 0, 0]),
            rec("north", [0, 1, 0]),
            rec("north-east", [1, 1, 0]),
            rec("west", [-1, 0, 0]),
        ],
    )

    matches = await store.search("docs", [2, 0.1, 0], k=3)

    assert [m.id for m in matches] == ["east", "north-east", "north"]
    assert matches[0].score == pytest.approx(cosine([2, 0.1, 0], [1, 0, 0]), abs=1e-6)
    assert matches[1].score == pytest.approx(cosine([2, 0.1, 0], [1, 1, 0]), abs=1e-6)
    same = await store.search("docs", [5, 0, 0], k=1)
    assert same[0].score == pytest.approx(1.0, abs=1e-6)
    opposite = await store.search("docs", [-1, 0, 0], k=4)
    assert opposite[-1].id == "east"
    assert opposite[-1].score == pytest.approx(-1.0, abs=1e-6)


async def test_upsert_replaces_a_record_by_id(store: VectorStore):
    assert await store.upsert("docs", [rec("a", [1, 0], "old", v=1), rec("b", [0, 1])]) == 2

    assert await store.upsert("docs", [rec("a", [0, 1], "new", v=2)]) == 1

    matches = await store.search("docs", [0, 1], k=2)
    assert [(m.id, m.text, m.metadata) for m in matches] == [("a", "new", {"v": 2}), ("b", "b", {})]
    assert matches[0].score == pytest.approx(1.0)
    [info] = await store.collections()
    assert (info.name, info.dimension, info.count) == ("docs", 2, 2)


async def test_the_last_of_several_records_with_one_id_wins(store: VectorStore):
    written = await store.upsert("docs", [rec("a", [1, 0], "first"), rec("a", [0, 1], "last")])

    assert written == 1
    [match] = await store.search("docs", [0, 1], k=5)
    assert (match.text, match.score) == ("last", pytest.approx(1.0))


async def test_the_first_record_fixes_the_dimension(store: VectorStore):
    await store.upsert("docs", [rec("a", [1, 0, 0])])

    with pytest.raises(VectorStoreError) as caught:
        await store.upsert("docs", [rec("b", [1, 0, 0]), rec("c", [1, 0])])
    assert caught.value.type == "vector_dimension_mismatch"
    assert "'docs'" in caught.value.message
    assert "3 dimensions" in caught.value.message
    assert "'c' has 2" in caught.value.message
    assert [m.id for m in await store.search("docs", [1, 0, 0])] == ["a"]  # nothing written

    with pytest.raises(VectorStoreError, match=r"'docs'.*3 dimensions.*query vector has 4"):
        await store.search("docs", [1, 0, 0, 0])


async def test_a_new_collection_refuses_mixed_sizes(store: VectorStore):
    with pytest.raises(VectorStoreError, match="vectors of 2 dimensions"):
        await store.upsert("docs", [rec("a", [1, 0]), rec("b", [1, 0, 0])])
    assert await store.collections() == []


async def test_where_filters_on_metadata_equality(store: VectorStore):
    await store.upsert(
        "docs",
        [
            rec("a", [1, 0], source="faq.md", page=1, public=True),
            rec("b", [1, 0.1], source="faq.md", page=2, public=False),
            rec("c", [1, 0.2], source="guide.md", page=1, tag=None),
            rec("d", [1, 0.3], **{"source": "guide.md", "a.b": "dotted"}),
        ],
    )

    async def ids(**where: object) -> list[str]:
        return [m.id for m in await store.search("docs", [1, 0], k=10, where=where)]

    assert await ids(source="faq.md") == ["a", "b"]
    assert await ids(source="guide.md", page=1) == ["c"]
    assert await ids(public=True) == ["a"]
    assert await ids(public=False) == ["b"]
    assert await ids(page=1.0) == ["a", "c"]
    assert await ids(page="1") == []
    assert await ids(tag=None) == ["a", "b", "c", "d"]  # missing or null
    assert await ids(**{"a.b": "dotted"}) == ["d"]
    assert await ids(source="nowhere") == []


async def test_where_refuses_values_it_cannot_compare(store: VectorStore):
    await store.upsert("docs", [rec("a", [1, 0])])

    with pytest.raises(VectorStoreError, match="compare with a string, number"):
        await store.search("docs", [1, 0], where={"tags": ["x"]})
    with pytest.raises(VectorStoreError, match="filter key"):
        await store.search("docs", [1, 0], where={'a"b': 1})


async def test_searching_an_unknown_collection_says_so(store: VectorStore):
    with pytest.raises(VectorStoreError) as caught:
        await store.search("nope", [1, 0])

    assert caught.value.type == "collection_not_found"
    assert "'nope'" in caught.value.message


async def test_a_zero_vector_scores_zero(store: VectorStore):
    await store.upsert("docs", [rec("zero", [0, 0]), rec("x", [1, 0])])

    matches = await store.search("docs", [0, 1], k=2)

    assert [(m.id, m.score) for m in matches] == [("zero", 0.0), ("x", pytest.approx(0.0))]


async def test_collections_are_separate(store: VectorStore):
    await store.upsert("one", [rec("a", [1, 0])])
    await store.upsert("two", [rec("a", [0, 0, 1], "other")])

    assert [(c.name, c.dimension, c.count) for c in await store.collections()] == [
        ("one", 2, 1),
        ("two", 3, 1),
    ]
    [match] = await store.search("two", [0, 0, 1])
    assert match.text == "other"


# -- delete ------------------------------------------------------------------------------------


async def test_delete_by_ids_and_whole_collections(store: VectorStore):
    await store.upsert("docs", [rec(str(i), [1, i]) for i in range(5)])
    await store.upsert("other", [rec("x", [1])])

    assert await store.delete("docs", ["1", "3", "missing"]) == 2
    assert sorted(m.id for m in await store.search("docs", [1, 0], k=10)) == ["0", "2", "4"]

    assert await store.delete("docs") == 3
    assert await store.collection("docs") is None
    assert [c.name for c in await store.collections()] == ["other"]
    assert await store.delete("docs") == 0
    assert await store.delete("docs", ["0"]) == 0

    await store.upsert("docs", [rec("a", [1, 0, 0])])  # a new dimension after deleting
    assert (await store.collection("docs")).dimension == 3  # type: ignore[union-attr]


# -- both ways of ranking agree ------------------------------------------------------------------


@pytest.fixture
async def sqlite_store(tmp_path: Path) -> AsyncIterator[VectorStore]:
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'tav.db'}")
    await db.migrate()
    yield VectorStore(db)
    await db.close()


async def test_python_ranking_matches_sql_ranking(sqlite_store: VectorStore):
    store = sqlite_store
    rng = random.Random(7)
    records = [
        rec(f"r{i}", [rng.uniform(-1, 1) for _ in range(16)], group=i % 3) for i in range(200)
    ]
    await store.upsert("docs", records)
    query = [rng.uniform(-1, 1) for _ in range(16)]

    first = await store.search("docs", query, k=10, where={"group": 1})
    in_python = VectorStore(store.db, rank_in_python=True)
    second = await in_python.search("docs", query, k=10, where={"group": 1})

    assert await store.native_search()
    assert not await in_python.native_search()
    assert [m.id for m in first] == [m.id for m in second]
    assert [m.score for m in first] == pytest.approx([m.score for m in second], abs=1e-5)
    assert all(m.metadata["group"] == 1 for m in first)
