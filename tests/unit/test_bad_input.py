"""Bad input gives an InputFormatError naming the file, the line and the field; never a bare traceback."""

from __future__ import annotations

import pytest

from helpers import jsonl, tsv
from regard.data import (
    Corpus,
    Document,
    read_beir_qrels,
    read_jsonl_queries,
    read_trec_qrels,
    read_trec_run,
    read_trec_topics,
    read_tsv_queries,
)
from regard.datasets import load_dataset, spec
from regard.errors import InputFormatError, RegardError, UnknownDatasetError


def format_error(read, path) -> InputFormatError:
    """The InputFormatError that reading ``path`` with ``read`` raises (fully consuming iterators)."""
    with pytest.raises(InputFormatError) as caught:
        result = read(path)
        list(result) if result is not None else None
    return caught.value


def assert_names(error: InputFormatError, path, line: int | None, field: str | None = None, *fragments: str):
    """The error's attributes and message name the file, ``:line``, the field and each fragment."""
    message = str(error)
    assert error.path == str(path)
    assert error.line == line
    assert error.field == field
    assert message.startswith(str(path) if line is None else f"{path}:{line}"), message
    if field is not None:
        assert f"field '{field}'" in message
    for fragment in fragments:
        assert fragment in message


# --- JSONL ---------------------------------------------------------------------------------------------


def test_malformed_json_line(write):
    path = write("corpus.jsonl", jsonl(
        '{"_id": "d1", "text": "fine"}',
        '{"_id": "d2", "text": "fine"}',
        '{"_id": "d3", "text": "unterminated}',
    ))
    error = format_error(Corpus, path)
    assert_names(error, path, 3, None, "malformed JSON")


def test_malformed_json_line_number_counts_blank_lines(write):
    path = write("queries.jsonl", '{"_id": "q1", "text": "a"}\n\n\n{"_id": "q2", "text": }\n', dedent=False)
    assert_names(format_error(read_jsonl_queries, path), path, 4, None, "malformed JSON", "column 23")


def test_json_line_that_is_not_an_object(write):
    path = write("corpus.jsonl", jsonl('{"_id": "d1", "text": "ok"}', '["d2", "a list"]'))
    assert_names(format_error(Corpus, path), path, 2, None, "expected a JSON object")


def test_duplicate_document_id_names_both_lines(write):
    path = write("corpus.jsonl", jsonl(
        '{"_id": "d1", "text": "one"}',
        '{"_id": "d2", "text": "two"}',
        '{"_id": "d1", "text": "one again"}',
    ))
    assert_names(format_error(Corpus, path), path, 3, "id", "duplicate document id 'd1'", "first at line 1")


def test_duplicate_document_id_in_tsv(write):
    path = write("docs.tsv", tsv(("id", "text"), ("a", "x"), ("b", "y"), ("a", "z")))
    assert_names(format_error(Corpus, path), path, 4, "id", "'a'", "first at line 2")


@pytest.mark.parametrize("record, field, what", [
    ('{"title": "t", "text": "no id"}', "_id", "missing document id"),
    ('{"_id": "d2", "title": "no text"}', "text", "missing document text"),
    ('{"_id": "d2", "text": ["not", "a", "string"]}', "text", "expected a string, got list"),
    ('{"_id": "", "text": "empty id"}', "id", "empty document id"),
])
def test_missing_or_bad_document_field(write, record, field, what):
    path = write("corpus.jsonl", jsonl('{"_id": "d1", "text": "ok"}', record))
    assert_names(format_error(Corpus, path), path, 2, field, what)


def test_missing_query_text(write):
    path = write("queries.jsonl", jsonl('{"_id": "q1"}'))
    assert_names(format_error(read_jsonl_queries, path), path, 1, "text", "missing query text")


def test_non_utf8_bytes_name_the_line(write):
    path = write("corpus.jsonl", b'{"_id": "d1", "text": "ok"}\n{"_id": "d2", "text": "ok"}\n'
                                 b'{"_id": "d3", "text": "caf\xe9"}\n')
    assert_names(format_error(Corpus, path), path, 3, None, "not valid UTF-8", "byte 26")


def test_non_utf8_bytes_in_gzip_file(write):
    path = write("docs.tsv.gz", b"d1\tok\nd2\t\xff\xfe\n")
    assert_names(format_error(Corpus, path), path, 2, None, "not valid UTF-8")


def test_missing_file(tmp_path):
    path = tmp_path / "nope.jsonl"
    assert_names(format_error(Corpus, path), path, None, None, "not found")
    assert_names(format_error(read_trec_run, path), path, None, None, "not found")


# --- empty documents are skipped, not errors -----------------------------------------------------------


def test_empty_documents_are_skipped_and_counted(write):
    path = write("corpus.jsonl", jsonl(
        '{"_id": "d1", "title": "", "text": ""}',
        '{"_id": "d2", "title": "Only a title", "text": ""}',
        '{"_id": "d3", "title": "  ", "text": " \\t "}',
        '{"_id": "d4", "text": "text", "title": null}',
    ))
    corpus = Corpus(path)
    assert list(corpus) == [Document(id="d2", title="Only a title", text=""), Document(id="d4", text="text")]
    assert corpus.skipped_empty == 2
    list(corpus)  # a second pass counts afresh
    assert corpus.skipped_empty == 2


def test_empty_document_still_reserves_its_id(write):
    path = write("corpus.jsonl", jsonl('{"_id": "d1", "text": ""}', '{"_id": "d1", "text": "again"}'))
    assert_names(format_error(Corpus, path), path, 2, "id", "first at line 1")


# --- TREC documents --------------------------------------------------------------------------------------


def test_trec_document_without_docno(write):
    path = write("docs.trec", """\
        <DOC>
        <DOCNO>1</DOCNO>
        fine
        </DOC>
        <DOC>
        <TEXT>no number</TEXT>
        </DOC>
        """)
    assert_names(format_error(Corpus, path), path, 5, "DOCNO", "no <DOCNO>")


def test_trec_document_with_empty_docno(write):
    path = write("docs.trec", "<DOC>\n<DOCNO>  </DOCNO>\ntext\n</DOC>\n")
    assert_names(format_error(Corpus, path), path, 1, "DOCNO", "no <DOCNO>")


def test_unclosed_trec_document_at_end_of_file(write):
    path = write("docs.trec", "<DOC>\n<DOCNO>1</DOCNO>\nfine\n</DOC>\n<DOC>\n<DOCNO>2</DOCNO>\ncut off\n")
    assert_names(format_error(Corpus, path), path, 5, None, "<DOC> is not closed")


def test_unclosed_trec_document_before_the_next(write):
    path = write("docs.trec", "<DOC>\n<DOCNO>1</DOCNO>\nno end\n<DOC>\n<DOCNO>2</DOCNO>\n</DOC>\n")
    assert_names(format_error(Corpus, path), path, 4, None, "<DOC> opened at line 1 is not closed")


def test_text_outside_trec_document(write):
    path = write("docs.trec", "<DOC>\n<DOCNO>1</DOCNO>\n</DOC>\nstray words\n")
    assert_names(format_error(Corpus, path), path, 4, None, "outside a <DOC>")


# --- TREC topics ------------------------------------------------------------------------------------------


def test_topic_without_num(write):
    path = write("topics", "<top>\n<num>1</num><title>ok</title>\n</top>\n<top>\n<title>no number</title>\n</top>\n")
    assert_names(format_error(read_trec_topics, path), path, 4, "num", "no <num>")


def test_topic_without_requested_field(write):
    path = write("topics", "<top>\n<num> Number: 7\n<title> only a title\n</top>\n")
    error = format_error(lambda p: read_trec_topics(p, field="desc"), path)
    assert_names(error, path, 1, "desc", "topic 7 has no <desc>")


def test_unclosed_topic(write):
    path = write("topics", "<top>\n<num>1</num><title>ok</title>\n")
    assert_names(format_error(read_trec_topics, path), path, 1, None, "<top> is not closed")


# --- column counts -------------------------------------------------------------------------------------


@pytest.mark.parametrize("row", [("d2",), ("d2", "title", "text", "extra")])
def test_tsv_documents_wrong_column_count(write, row):
    path = write("docs.tsv", tsv(("id", "text"), ("d1", "fine"), row))
    assert_names(format_error(Corpus, path), path, 3, None, f"got {len(row)}")


def test_tsv_queries_wrong_column_count(write):
    path = write("queries.tsv", tsv(("1", "fine"), ("2", "a", "b")))
    assert_names(format_error(read_tsv_queries, path), path, 2, None, "expected 2", "got 3")


def test_beir_qrels_wrong_column_count(write):
    path = write("test.tsv", tsv(("query-id", "corpus-id", "score"), ("q1", "d1", "1"), ("q1", "d2")))
    assert_names(format_error(read_beir_qrels, path), path, 3, None, "expected 3", "got 2")


def test_beir_qrels_grade_not_a_number(write):
    path = write("test.tsv", tsv(("query-id", "corpus-id", "score"), ("q1", "d1", "high")))
    assert_names(format_error(read_beir_qrels, path), path, 2, "score", "'high' is not a number")


@pytest.mark.parametrize("line, count", [("1 0 d2", 3), ("1 0 d2 1 extra", 5)])
def test_trec_qrels_wrong_column_count(write, line, count):
    path = write("qrels", f"1 0 d1 1\n{line}\n")
    assert_names(format_error(read_trec_qrels, path), path, 2, None, "expected 4", f"got {count}")


def test_trec_qrels_grade_not_a_number(write):
    path = write("qrels", "1 0 d1 yes\n")
    assert_names(format_error(read_trec_qrels, path), path, 1, "grade", "'yes' is not a number")


@pytest.mark.parametrize("line, count", [("q1 Q0 d2 2 0.5", 5), ("q1 Q0 d2 2 0.5 tag extra", 7), ("q1 d2 0.5", 3)])
def test_trec_run_wrong_column_count(write, line, count):
    path = write("run.trec", f"q1 Q0 d1 1 0.9 tag\n{line}\n")
    assert_names(format_error(read_trec_run, path), path, 2, None, "expected 6", f"got {count}")


def test_trec_run_score_not_a_number(write):
    path = write("run.trec", "q1 Q0 d1 1 0.9 tag\nq1 Q0 d2 2 high tag\n")
    assert_names(format_error(read_trec_run, path), path, 2, "score", "'high' is not a number")


def test_trec_run_duplicate_document(write):
    path = write("run.trec", "q1 Q0 d1 1 0.9 tag\nq2 Q0 d1 1 0.9 tag\nq1 Q0 d1 2 0.8 tag\n")
    assert_names(format_error(read_trec_run, path), path, 3, "docid", "d1 appears twice for query q1")


# --- corpus paths and formats ---------------------------------------------------------------------------


def test_folder_without_corpus_jsonl(tmp_path):
    assert_names(format_error(Corpus, tmp_path), tmp_path, None, None, "no corpus.jsonl")


def test_unknown_explicit_format(write):
    with pytest.raises(ValueError, match="unknown corpus format 'xml'"):
        Corpus(write("docs.xml", "<x/>\n"), fmt="xml")


# --- dataset names -------------------------------------------------------------------------------------


def test_unknown_dataset_suggests_the_close_name():
    with pytest.raises(UnknownDatasetError) as caught:
        spec("scifakt")
    message = str(caught.value)
    assert message.startswith("unknown dataset 'scifakt'.")
    assert "Did you mean scifact?" in message
    assert "Known: " in message and "vaswani" in message
    assert isinstance(caught.value, RegardError) and isinstance(caught.value, KeyError)


def test_unknown_dataset_without_close_name_has_no_suggestion():
    with pytest.raises(UnknownDatasetError) as caught:
        spec("zzzzzzzz")
    assert "Did you mean" not in str(caught.value)
    assert "Known: " in str(caught.value)


def test_load_dataset_rejects_unknown_name_before_any_download(monkeypatch, tmp_path):
    monkeypatch.setenv("REGARD_DATA", str(tmp_path))
    monkeypatch.setenv("REGARD_CACHE", str(tmp_path / "cache"))
    with pytest.raises(UnknownDatasetError, match="Did you mean nfcorpus"):
        load_dataset("nfcorpas")
    assert not (tmp_path / "cache").exists()


@pytest.mark.parametrize("name, content, line", [
    ("corpus.jsonl", jsonl('{"_id": "d1", "text": "ok"}', '{"_id": "doc 2", "text": "a space in the id"}'), 2),
    ("corpus.jsonl", jsonl('{"_id": "tab\\there", "text": "a tab in the id"}'), 1),
    ("docs.tsv", tsv(("id", "text"), ("d1", "x"), ("d\u00a02", "a no-break space in the id")), 3),
])
def test_document_id_a_trec_run_cannot_hold_is_refused(write, name, content, line):
    path = write(name, content)
    assert_names(format_error(Corpus, path), path, line, "id", "contains whitespace")


def test_duplicate_ids_from_an_iterable_of_documents_are_an_input_error(tmp_path):
    from regard import Index

    documents = [Document("d1", "one"), Document("d2", "two"), Document("d1", "one again")]
    with pytest.raises(InputFormatError, match=r"<documents>:3 \(field 'id'\): duplicate document id 'd1' "
                                               r"\(first at item 1\)"):
        Index.build(documents, tmp_path / "idx", kind="bm25", backend="bm25s")
    assert not (tmp_path / "idx").exists()


def test_whitespace_ids_from_an_iterable_of_documents_are_an_input_error(tmp_path):
    from regard import Index

    with pytest.raises(InputFormatError, match=r"<documents>:2 \(field 'id'\).*whitespace"):
        Index.build([Document("d1", "one"), Document("d 2", "two")], tmp_path / "idx", kind="bm25", backend="bm25s")
