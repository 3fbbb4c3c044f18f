"""Atomic index directories, the SQLite document store and the index manifest."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from regard.data import Document
from regard.errors import BadIndexError, RegardError
from regard.indexing.atomic import atomic_directory, staging_dirs
from regard.indexing.docstore import DOCSTORE_NAME, DocStore, write_docstore
from regard.indexing.manifest import FORMAT_VERSION, MANIFEST_NAME, Manifest


def listing(folder: Path) -> dict[str, str]:
    """Every file under ``folder`` (relative path -> text), to compare whole trees."""
    return {str(p.relative_to(folder)): p.read_text() for p in sorted(folder.rglob("*")) if p.is_file()}


def make_existing_index(target: Path) -> None:
    target.mkdir()
    (target / "old.txt").write_text("old index")
    (target / MANIFEST_NAME).write_text(json.dumps({"kind": "bm25", "format_version": FORMAT_VERSION}))


OLD_INDEX = {"old.txt": "old index", MANIFEST_NAME: json.dumps({"kind": "bm25", "format_version": FORMAT_VERSION})}


# --- atomic_directory ----------------------------------------------------------------------------------------


def test_staging_folders_are_hidden_beside_the_target_and_unique(tmp_path):
    target = tmp_path / "idx"
    seen = []
    for _ in range(2):
        with atomic_directory(target, overwrite=True) as staging:
            assert staging.parent == tmp_path and staging.name.startswith(".idx.partial-")
            assert staging_dirs(target) == [staging]
            seen.append(staging.name)
    assert seen[0] != seen[1]


def test_success_renames_staging_into_place(tmp_path):
    target = tmp_path / "nested" / "idx"
    with atomic_directory(target) as staging:
        assert staging in staging_dirs(target)
        assert staging.is_dir() and not target.exists()
        (staging / "data.txt").write_text("new")
    assert listing(target) == {"data.txt": "new"}
    assert not staging.exists()
    assert sorted(p.name for p in target.parent.iterdir()) == ["idx"]


def test_failure_removes_staging_and_creates_no_target(tmp_path):
    target = tmp_path / "idx"
    with pytest.raises(RuntimeError, match="boom"):
        with atomic_directory(target) as staging:
            (staging / "half.txt").write_text("partial")
            raise RuntimeError("boom")
    assert not target.exists()
    assert not staging_dirs(target)


def test_failure_leaves_an_existing_target_untouched(tmp_path):
    target = tmp_path / "idx"
    make_existing_index(target)
    with pytest.raises(RuntimeError):
        with atomic_directory(target, overwrite=True) as staging:
            (staging / "new.txt").write_text("new")
            raise RuntimeError("boom")
    assert listing(target) == OLD_INDEX
    assert not staging_dirs(target)


def test_existing_target_without_overwrite_is_refused(tmp_path):
    target = tmp_path / "idx"
    make_existing_index(target)
    with pytest.raises(RegardError) as caught:
        with atomic_directory(target):
            pytest.fail("the body must not run")
    assert str(target) in str(caught.value)
    assert "overwrite" in str(caught.value)
    assert listing(target) == OLD_INDEX
    assert not staging_dirs(target)


def test_overwrite_replaces_the_target(tmp_path):
    target = tmp_path / "idx"
    make_existing_index(target)
    with atomic_directory(target, overwrite=True) as staging:
        (staging / "new.txt").write_text("new index")
        assert listing(target) == OLD_INDEX  # untouched until the body is done
    assert listing(target) == {"new.txt": "new index"}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["idx"]  # no staging, no retired copy


def test_interrupt_removes_staging_and_leaves_target(tmp_path):
    # Since "staging folder always starts clean" (bed800b) an interrupt is cleaned up like any failure;
    # work worth resuming lives in the embedding cache, not in the staging folder.
    target = tmp_path / "idx"
    make_existing_index(target)
    with pytest.raises(KeyboardInterrupt):
        with atomic_directory(target, overwrite=True) as staging:
            (staging / "step1.txt").write_text("done")
            raise KeyboardInterrupt
    assert listing(target) == OLD_INDEX
    assert not staging_dirs(target)


def test_stale_staging_from_a_killed_build_is_cleared(tmp_path):
    target = tmp_path / "idx"
    stale = [tmp_path / ".idx.partial", tmp_path / ".idx.partial-999999-0badc0de"]  # old and new naming
    for folder in stale:
        folder.mkdir()
        (folder / "stale.txt").write_text("from a killed process")
    unrelated = tmp_path / ".idx.partialities"
    unrelated.mkdir()
    with atomic_directory(target) as staging:
        assert staging not in stale
        assert list(staging.iterdir()) == []  # starts empty
        assert staging_dirs(target) == [staging]  # the dead builds' folders are gone
        (staging / "fresh.txt").write_text("new")
    assert listing(target) == {"fresh.txt": "new"}
    assert not any(folder.exists() for folder in stale)
    assert unrelated.is_dir()  # not a staging folder of this target


def test_overwrite_refuses_a_folder_that_is_not_a_regard_index(tmp_path):
    target = tmp_path / "work"
    target.mkdir()
    (target / "thesis.tex").write_text("years of work")
    (target / "chapters").mkdir()
    (target / "chapters" / "one.tex").write_text("chapter one")
    with pytest.raises(RegardError, match="not a regard index") as caught:
        with atomic_directory(target, overwrite=True):
            pytest.fail("the body must not run")
    assert str(target) in str(caught.value)
    assert listing(target) == {"thesis.tex": "years of work", "chapters/one.tex": "chapter one"}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["work"]


@pytest.mark.parametrize("manifest", ["{not json", "[1, 2]", '{"other": 1}'])
def test_overwrite_refuses_an_unreadable_manifest(tmp_path, manifest):
    target = tmp_path / "idx"
    target.mkdir()
    (target / MANIFEST_NAME).write_text(manifest)
    with pytest.raises(RegardError, match="not a regard index"):
        with atomic_directory(target, overwrite=True):
            pytest.fail("the body must not run")
    assert listing(target) == {MANIFEST_NAME: manifest}


def test_overwrite_refuses_a_file(tmp_path):
    target = tmp_path / "notes.txt"
    target.write_text("keep me")
    with pytest.raises(RegardError, match="not a folder"):
        with atomic_directory(target, overwrite=True):
            pytest.fail("the body must not run")
    assert target.read_text() == "keep me"


def test_overwrite_may_fill_an_empty_folder(tmp_path):
    target = tmp_path / "idx"
    target.mkdir()
    with atomic_directory(target, overwrite=True) as staging:
        (staging / "data.txt").write_text("new")
    assert listing(target) == {"data.txt": "new"}


def test_an_index_retired_by_a_build_killed_mid_swap_is_restored(tmp_path):
    target = tmp_path / "idx"
    make_existing_index(tmp_path / ".idx.old")  # the old index, moved aside just before the kill
    with pytest.raises(RegardError, match="already exists"):
        with atomic_directory(target):
            pytest.fail("the body must not run")
    assert listing(target) == OLD_INDEX


# --- document store ---------------------------------------------------------------------------------------------


DOCS = [
    Document(id="z9", title="Zeta", text="last letter"),
    Document(id="a1", title="", text="caf\u00e9 \U0001f600 and 'quotes'"),
    Document(id="m5", title="Mid", text=""),
]


@pytest.fixture
def store(tmp_path):
    count, fingerprint = write_docstore(iter(DOCS), tmp_path)
    assert count == 3
    docstore = DocStore(tmp_path)
    yield docstore
    docstore.close()


def test_docstore_round_trip_keeps_index_order(store, tmp_path):
    assert (tmp_path / DOCSTORE_NAME).is_file()
    assert len(store) == 3
    assert list(store.ids()) == ["z9", "a1", "m5"]  # index order, not sorted
    assert list(store) == DOCS


def test_docstore_ids_are_memory_mapped_and_positions_come_from_the_store(store, tmp_path):
    import numpy as np

    ids = store.ids()
    assert isinstance(ids._array, np.memmap) and ids[1] == "a1" and ids[0:2] == ["z9", "a1"] and len(ids) == 3
    assert store.positions(["m5", "z9", "missing"]) == {"m5": 2, "z9": 0}
    assert store.documents_at([2, 0]) == [DOCS[2], DOCS[0]]
    assert store.between(1, 3) == DOCS[1:] and [len(b) for b in store.batches(2)] == [2, 1]
    assert store.content_lengths().tolist() == [len(d.title) + len(d.text) for d in DOCS]


def test_docstore_get(store):
    assert store.get("a1") == DOCS[1]
    assert store.get("m5") == Document(id="m5", title="Mid", text="")
    assert store.get("missing") is None


def test_docstore_get_many(store):
    found = store.get_many(["m5", "missing", "z9", "m5"])
    assert found == {"m5": DOCS[2], "z9": DOCS[0]}
    assert store.get_many([]) == {}


def test_docstore_get_many_beyond_one_query_batch(tmp_path):
    docs = [Document(id=f"d{i:04d}", text=f"text {i}") for i in range(1203)]
    assert write_docstore(docs, tmp_path)[0] == 1203
    store = DocStore(tmp_path)
    wanted = [d.id for d in reversed(docs)] + ["nope"]
    found = store.get_many(wanted)
    assert len(found) == 1203
    assert found["d0000"] == docs[0] and found["d1202"] == docs[1202]
    assert store.ids()[:3] == ["d0000", "d0001", "d0002"]
    store.close()


def test_docstore_rewrite_replaces_the_old_store(tmp_path):
    write_docstore(DOCS, tmp_path)
    assert write_docstore(DOCS[:1], tmp_path)[0] == 1
    store = DocStore(tmp_path)
    assert store.ids() == ["z9"]
    store.close()


def test_docstore_is_read_only(store):
    import sqlite3

    with pytest.raises(sqlite3.OperationalError, match="readonly"):
        store._db.execute("DELETE FROM docs")


def fingerprint(tmp_path: Path, name: str, docs) -> str:
    folder = tmp_path / name
    folder.mkdir()
    return write_docstore(docs, folder)[1]


def test_fingerprint_is_stable_for_the_same_documents(tmp_path):
    first = fingerprint(tmp_path, "one", DOCS)
    assert len(first) == 64 and int(first, 16) >= 0  # a SHA-256 hex digest
    assert fingerprint(tmp_path, "two", list(DOCS)) == first
    assert fingerprint(tmp_path, "three", (Document(d.id, d.text, d.title) for d in DOCS)) == first


@pytest.mark.parametrize("changed", [
    [Document("z9", "last letter!", "Zeta"), *DOCS[1:]],  # one character of text
    [Document("z9", "last letter", "Zeta."), *DOCS[1:]],  # the title
    [Document("z9x", "last letter", "Zeta"), *DOCS[1:]],  # an id
    [DOCS[1], DOCS[0], DOCS[2]],  # the order
    DOCS[:2],  # a document fewer
    [*DOCS[:2], Document("m5", "d", "Mi")],  # title "Mid" + text "" -> title "Mi" + text "d"
])
def test_fingerprint_changes_with_the_documents(tmp_path, changed):
    assert fingerprint(tmp_path, "changed", changed) != fingerprint(tmp_path, "original", DOCS)


def test_fingerprint_of_known_input(tmp_path):
    import hashlib

    expected = hashlib.sha256(b"d\x00T\x00x\x00").hexdigest()
    assert fingerprint(tmp_path, "one", [Document(id="d", title="T", text="x")]) == expected


def test_docstore_in_a_folder_with_uri_characters(tmp_path):
    folder = tmp_path / "run#1"
    folder.mkdir()
    write_docstore(DOCS, folder)
    store = DocStore(folder)
    assert store.ids() == ["z9", "a1", "m5"]


# --- manifest -----------------------------------------------------------------------------------------------


def make_manifest(**changes) -> Manifest:
    fields = dict(kind="bm25", backend="bm25s", document_count=3, corpus_fingerprint="ab" * 32,
                  corpus_source="/data/scifact/corpus.jsonl", parameters={"k1": 0.9, "b": 0.4, "stemmer": "porter"},
                  skipped_empty_documents=1, build_seconds=1.25, regard_version="0.1.0")
    fields.update(changes)
    return Manifest(**fields)


def test_manifest_round_trip(tmp_path):
    manifest = make_manifest(model="sentence-transformers/all-MiniLM-L6-v2", model_revision="abc123")
    manifest.write(tmp_path)
    assert Manifest.read(tmp_path) == manifest
    data = json.loads((tmp_path / MANIFEST_NAME).read_text())
    assert data["kind"] == "bm25" and data["parameters"]["k1"] == 0.9
    assert data["format_version"] == FORMAT_VERSION


def test_manifest_defaults():
    manifest = make_manifest()
    assert manifest.model is None and manifest.format_version == FORMAT_VERSION
    assert manifest.built_at.endswith("Z") and len(manifest.built_at) == len("2024-01-01T00:00:00Z")


def test_manifest_ignores_unknown_fields(tmp_path):
    make_manifest().write(tmp_path)
    path = tmp_path / MANIFEST_NAME
    data = json.loads(path.read_text())
    data["added_by_a_newer_version"] = True
    path.write_text(json.dumps(data))
    assert Manifest.read(tmp_path) == make_manifest(built_at=data["built_at"], built_on=data["built_on"])


def test_missing_manifest(tmp_path):
    with pytest.raises(BadIndexError, match="not a regard index") as caught:
        Manifest.read(tmp_path)
    assert str(tmp_path) in str(caught.value)


def test_manifest_of_another_format_version(tmp_path):
    make_manifest(format_version=FORMAT_VERSION + 1).write(tmp_path)
    with pytest.raises(BadIndexError, match=f"index format {FORMAT_VERSION + 1} is not {FORMAT_VERSION}; rebuild"):
        Manifest.read(tmp_path)


@pytest.mark.parametrize("content", [
    pytest.param(b'{"kind": "bm25", "backend": ', id="truncated-json"),
    pytest.param(b"", id="empty-file"),
    pytest.param(b"[1, 2]", id="json-list"),
    pytest.param(b'{"format_version": 1}', id="fields-missing"),
    pytest.param(b"\xff\xfe\x00\x01", id="binary"),
])
def test_garbled_manifest(tmp_path, content):
    (tmp_path / MANIFEST_NAME).write_bytes(content)
    with pytest.raises(BadIndexError) as caught:
        Manifest.read(tmp_path)
    assert str(tmp_path / MANIFEST_NAME) in str(caught.value)
