"""Readers and writers of BEIR, JSONL, TSV and TREC files, on tiny files written per test."""

from __future__ import annotations

import pytest

from helpers import jsonl, tsv
from regard.data import (
    Corpus,
    Document,
    Qrels,
    Query,
    Run,
    detect_format,
    iter_jsonl_documents,
    iter_trec_documents,
    iter_tsv_documents,
    read_beir_qrels,
    read_jsonl_queries,
    read_trec_qrels,
    read_trec_run,
    read_trec_topics,
    read_tsv_queries,
    write_jsonl_documents,
    write_trec_run,
)
from regard.errors import InputFormatError


def docs(pairs) -> list[Document]:
    """Drop the line numbers from a reader's ``(line, Document)`` stream."""
    return [doc for _, doc in pairs]


# --- BEIR ------------------------------------------------------------------------------------------


BEIR_CORPUS = jsonl(
    '{"_id": "d1", "title": "Sharks", "text": "Sharks are fish.", "metadata": {}}',
    '{"_id": "d2", "title": "", "text": "Caf\u00e9 \u00fcber alles."}',
    "",  # blank lines are ignored
    '{"_id": 3, "text": "No title field; integer id."}',
)


def test_beir_corpus_jsonl(write):
    path = write("corpus.jsonl", BEIR_CORPUS)
    assert list(iter_jsonl_documents(path)) == [
        (1, Document(id="d1", title="Sharks", text="Sharks are fish.")),
        (2, Document(id="d2", title="", text="Café über alles.")),
        (4, Document(id="3", title="", text="No title field; integer id.")),
    ]


def test_document_contents_joins_title_and_text():
    assert Document(id="d", title="Sharks", text="are fish.").contents == "Sharks are fish."
    assert Document(id="d", text="  only text ").contents == "only text"


def test_beir_folder_is_a_corpus(write, tmp_path):
    write("scifact/corpus.jsonl", BEIR_CORPUS)
    corpus = Corpus(tmp_path / "scifact")
    assert corpus.format == "jsonl"
    assert corpus.name == "scifact"
    assert [d.id for d in corpus] == ["d1", "d2", "3"]


def test_beir_queries_jsonl(write):
    path = write("queries.jsonl", jsonl(
        '{"_id": "q1", "text": "what are sharks", "metadata": {}}',
        '{"_id": "q2", "text": "caf\u00e9"}',
    ))
    assert read_jsonl_queries(path) == [Query(id="q1", text="what are sharks"), Query(id="q2", text="café")]


def test_beir_qrels_tsv_with_header(write):
    path = write("test.tsv", tsv(
        ("query-id", "corpus-id", "score"),
        ("q1", "d1", "1"),
        ("q1", "d2", "2"),
        ("q2", "d3", "0"),
    ))
    qrels = read_beir_qrels(path)
    assert isinstance(qrels, Qrels)
    assert qrels == {"q1": {"d1": 1, "d2": 2}, "q2": {"d3": 0}}
    assert qrels.relevant("q1") == {"d1", "d2"}
    assert qrels.relevant("q1", min_grade=2) == {"d2"}
    assert qrels.relevant("q2") == set()
    assert qrels.restricted_to(["q2"]) == {"q2": {"d3": 0}}


# --- generic JSONL and TSV ---------------------------------------------------------------------------


def test_generic_jsonl_with_id_and_contents(write):
    path = write("docs.jsonl", jsonl(
        '{"id": "a", "contents": "first document"}',
        '{"id": "b", "contents": "second document"}',
    ))
    assert detect_format(path) == "jsonl"
    assert list(Corpus(path)) == [Document(id="a", text="first document"), Document(id="b", text="second document")]


def test_jsonl_write_then_read_round_trip(tmp_path):
    original = [Document(id="x1", title="T\u00eftle", text='quotes " and \\ backslash'), Document(id="x2", text="t")]
    path = tmp_path / "out.jsonl"
    assert write_jsonl_documents(original, path) == 2
    assert docs(iter_jsonl_documents(path)) == original


def test_tsv_documents_two_columns_with_header(write):
    path = write("docs.tsv", tsv(("id", "text"), ("d1", "first text"), ("d2", "second text")))
    assert list(iter_tsv_documents(path)) == [
        (2, Document(id="d1", text="first text")),
        (3, Document(id="d2", text="second text")),
    ]


def test_tsv_documents_three_columns_with_header(write):
    path = write("docs.tsv", tsv(("docid", "title", "text"), ("d1", "One", "first text"), ("d2", "", "second")))
    assert docs(iter_tsv_documents(path)) == [
        Document(id="d1", title="One", text="first text"),
        Document(id="d2", title="", text="second"),
    ]


def test_tsv_documents_without_header_keep_first_line(write):
    path = write("docs.tsv", tsv(("d1", "first text"), ("d2", "second text")))
    assert [d.id for d in docs(iter_tsv_documents(path))] == ["d1", "d2"]


def test_tsv_queries(write):
    path = write("queries.tsv", tsv(("qid", "text"), ("1", " what is a shark "), ("2", "fish")))
    assert read_tsv_queries(path) == [Query(id="1", text="what is a shark"), Query(id="2", text="fish")]


# --- TREC documents ------------------------------------------------------------------------------------


TREC_DOCS = """\
    <DOC>
    <DOCNO> FT911-1 </DOCNO>
    <DATE>910101</DATE>
    <HEADLINE>Markets &amp; Money</HEADLINE>
    <TEXT>
    Shares rose &lt;sharply&gt; on
    Monday.
    </TEXT>
    </DOC>
    <DOC><DOCNO>FT911-2</DOCNO>
    <TITLE>Second</TITLE>
    Untagged text &eacute;t&eacute;.
    </DOC>
    """


def test_trec_documents(write):
    path = write("docs.trec", TREC_DOCS)
    assert list(iter_trec_documents(path)) == [
        (1, Document(id="FT911-1", title="Markets & Money", text="Shares rose <sharply> on Monday.")),
        (10, Document(id="FT911-2", title="Second", text="Untagged text été.")),
    ]


def test_trec_documents_vaswani_style(write):
    path = write("doc-text.trec", """\
        <DOC>
        <DOCNO>1</DOCNO>
        compact memories have flexible capacities
        </DOC>
        <DOC>
        <DOCNO>2</DOCNO>
        an electronic analogue computer
        for solving systems
        </DOC>
        """)
    assert docs(iter_trec_documents(path)) == [
        Document(id="1", text="compact memories have flexible capacities"),
        Document(id="2", text="an electronic analogue computer for solving systems"),
    ]


def test_trec_documents_on_one_line(write):
    # SGML does not care about line breaks: a whole document, or its last text, may share a line with </DOC>.
    path = write("docs.trec", """\
        <DOC><DOCNO>a</DOCNO><TEXT>first</TEXT></DOC>
        <DOC><DOCNO>b</DOCNO><HEADLINE>Head</HEADLINE><TEXT>second</TEXT></DOC>
        <DOC>
        <DOCNO>c</DOCNO>
        third</DOC>
        """)
    assert list(iter_trec_documents(path)) == [
        (1, Document(id="a", text="first")),
        (2, Document(id="b", title="Head", text="second")),
        (3, Document(id="c", text="third")),
    ]


# --- TREC topics, qrels and runs --------------------------------------------------------------------


def test_trec_topics_vaswani_style(write):
    path = write("query-text.trec", """\
        <top>
        <num>1</num><title>
        MEASUREMENT OF DIELECTRIC CONSTANT OF LIQUIDS BY THE USE OF MICROWAVE TECHNIQUES
        </title>
        </top>
        <top>
        <num>2</num><title>
        MATHEMATICAL ANALYSIS AND DESIGN DETAILS
        OF WAVEGUIDE FED MICROWAVE RADIATIONS
        </title>
        </top>
        """)
    assert read_trec_topics(path) == [
        Query(id="1", text="MEASUREMENT OF DIELECTRIC CONSTANT OF LIQUIDS BY THE USE OF MICROWAVE TECHNIQUES"),
        Query(id="2", text="MATHEMATICAL ANALYSIS AND DESIGN DETAILS OF WAVEGUIDE FED MICROWAVE RADIATIONS"),
    ]


CLASSIC_TOPICS = """\
    <top>

    <num> Number: 301
    <title> Topic: International Organized Crime

    <desc> Description:
    Identify organizations that participate in international
    criminal activity.

    <narr> Narrative:
    A relevant document must name the organization.

    </top>

    <top>
    <num> Number: 302
    <title> Poliomyelitis and Post-Polio

    <desc> Description:
    Is the disease of Poliomyelitis (polio) under control?

    <narr> Narrative:
    Relevant documents discuss outbreaks.
    </top>
    """


def test_trec_topics_classic_style(write):
    path = write("topics.301-302", CLASSIC_TOPICS)
    assert read_trec_topics(path) == [
        Query(id="301", text="International Organized Crime"),
        Query(id="302", text="Poliomyelitis and Post-Polio"),
    ]


def test_trec_topics_other_fields(write):
    path = write("topics.301-302", CLASSIC_TOPICS)
    assert [q.text for q in read_trec_topics(path, field="desc")] == [
        "Identify organizations that participate in international criminal activity.",
        "Is the disease of Poliomyelitis (polio) under control?",
    ]
    assert read_trec_topics(path, field="narr")[0].text == "A relevant document must name the organization."


def test_trec_qrels(write):
    path = write("qrels", """\
        1 0 d1 1
        1 0 d2 0

        2 Q0 d3 2
        """)
    assert read_trec_qrels(path) == {"1": {"d1": 1, "d2": 0}, "2": {"d3": 2}}


def test_trec_run_is_ordered_by_score_not_rank_column(write):
    # trec_eval ignores the rank column; so does regard.
    path = write("run.trec", """\
        q1 Q0 d1 1 1.5 tag
        q1 Q0 d2 2 2.5 tag
        q2 Q0 d9 1 -0.25 tag
        """)
    run = read_trec_run(path)
    assert run.qids() == ["q1", "q2"]
    assert run["q1"] == [("d2", 2.5), ("d1", 1.5)]
    assert run["q2"] == [("d9", -0.25)]


def test_trec_run_write_then_read_round_trip(tmp_path):
    run = Run({
        "q1": [("d1", 0.1 + 0.2), ("d2", 1 / 3), ("d3", 1e-17)],
        "q10": [("d4", -12345.678901234567), ("d5", 7.0)],
    })
    path = tmp_path / "run.trec"
    write_trec_run(run, path, tag="my system")
    assert read_trec_run(path) == run
    lines = path.read_text().splitlines()
    assert lines[0] == "q1 Q0 d2 1 0.3333333333333333 my_system"
    assert lines[1] == "q1 Q0 d1 2 0.30000000000000004 my_system"  # full precision, not 0.3
    assert [line.split()[3] for line in lines] == ["1", "2", "3", "1", "2"]


# --- gzip and format detection ------------------------------------------------------------------------


def test_gzip_inputs(write):
    corpus = write("corpus.jsonl.gz", BEIR_CORPUS)
    qrels = write("qrels.tsv.gz", tsv(("query-id", "corpus-id", "score"), ("q1", "d1", "1")))
    run = write("run.trec.gz", "q1 Q0 d1 1 3.0 tag\n")
    assert [d.id for d in Corpus(corpus)] == ["d1", "d2", "3"]
    assert Corpus(corpus).format == "jsonl"
    assert Corpus(corpus).name == "corpus.jsonl"
    assert read_beir_qrels(qrels) == {"q1": {"d1": 1}}
    assert read_trec_run(run) == Run({"q1": [("d1", 3.0)]})


@pytest.mark.parametrize("name, content", [
    ("corpus.jsonl", jsonl('{"_id": "d1", "text": "hello"}')),
    ("corpus.tsv", tsv(("id", "text"), ("d1", "hello"))),
])
def test_utf8_byte_order_mark_is_ignored(write, name, content):
    # Files saved by Windows tools often start with a BOM; it is not part of the first id or header.
    path = write(name, "\ufeff" + content, dedent=False)
    assert list(Corpus(path)) == [Document(id="d1", text="hello")]


def test_beir_qrels_with_byte_order_mark(write):
    path = write("test.tsv", "\ufeff" + tsv(("query-id", "corpus-id", "score"), ("q1", "d1", "1")), dedent=False)
    assert read_beir_qrels(path) == {"q1": {"d1": 1}}


@pytest.mark.parametrize("name, expected", [
    ("c.jsonl", "jsonl"), ("c.json", "jsonl"), ("c.ndjson", "jsonl"), ("C.JSONL.GZ", "jsonl"),
    ("c.tsv", "tsv"), ("c.tab", "tsv"), ("c.tsv.gz", "tsv"),
    ("c.trec", "trec"), ("c.sgml", "trec"), ("c.trectext", "trec"),
])
def test_detect_format_from_name(write, name, expected):
    # The content disagrees with the name on purpose: the name wins.
    assert detect_format(write(name, "nothing to sniff here\n")) == expected


@pytest.mark.parametrize("content, expected", [
    ("\n\n<DOC>\n<DOCNO>1</DOCNO>\n</DOC>\n", "trec"),
    ("<doc>\n", "trec"),
    ('  {"_id": "1", "text": "x"}\n', "jsonl"),
    ("1\tsome text\n", "tsv"),
])
def test_detect_format_from_content(write, content, expected):
    assert detect_format(write("corpus.txt", content, dedent=False)) == expected
    assert detect_format(write("corpus.gz", content, dedent=False)) == expected


def test_detect_format_gives_up_with_a_clear_error(write):
    path = write("corpus.txt", "plain words without tabs\n")
    with pytest.raises(InputFormatError, match="cannot tell the corpus format") as caught:
        detect_format(path)
    assert str(path) in str(caught.value)


def test_corpus_with_explicit_format_overrides_detection(write):
    path = write("docs.txt", tsv(("d1", "one"), ("d2", "two")))
    corpus = Corpus(path, fmt="tsv")
    assert [d.text for d in corpus] == ["one", "two"]
    assert corpus.name == "docs"
