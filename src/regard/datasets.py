"""Named datasets: BEIR collections, Vaswani (NPL), the TREC DL19 reranking slice and LoCoV1 (regard/loco.py).

A name resolves, in order, to a folder in the local mirror (``REGARD_DATA``, one or more directories
separated by ``os.pathsep``), to the download cache (``$REGARD_CACHE/datasets``, by default
``~/.cache/regard/datasets``), and finally to a download.
"""

from __future__ import annotations

import difflib
import hashlib
import os
import shutil
import tempfile
import urllib.request
from dataclasses import dataclass, field, replace
from functools import cached_property
from pathlib import Path

from regard.data import Corpus, Qrels, Query, Run, read_beir_qrels, read_jsonl_queries
from regard.data import read_qrels_file, read_queries_file, read_trec_qrels, read_trec_run, read_trec_topics
from regard.errors import MissingExtraError, RegardError, UnknownDatasetError

BEIR_URL = "https://public.ukp.informatik.tu-darmstadt.de/thakur/BEIR/datasets/{name}.zip"
IRDS_PREFIX = "irds:"  # ir_datasets ids: irds:beir/scifact/test, irds:msmarco-passage/trec-dl-2019/judged
VASWANI_URL = "https://raw.githubusercontent.com/terrier-org/pyterrier/master/tests/fixtures/vaswani_npl/{file}"


@dataclass(frozen=True)
class DatasetSpec:
    """What regard knows about a named dataset before it is on disk."""

    name: str
    description: str
    layout: str  # "beir", "trec" or "loco" (see regard/loco.py)
    default_split: str = "test"
    mirror_names: tuple[str, ...] = ()
    relevance_threshold: int = 1  # the lowest grade that counts as relevant for recall and MAP
    trec_files: dict[str, str] = field(default_factory=dict)  # layout "trec": corpus, topics, qrels
    candidates_file: str | None = None  # a first-stage run shipped with a reranking-only dataset
    downloadable: bool = True
    note: str = ""


_BEIR = {
    "trec-covid": "TREC-COVID: 171k CORD-19 abstracts, 50 queries",
    "nfcorpus": "NFCorpus: 3.6k medical documents, 323 test queries",
    "nq": "Natural Questions: 2.68M Wikipedia passages, 3,452 queries",
    "hotpotqa": "HotpotQA: 5.2M Wikipedia passages, 7,405 queries",
    "fiqa": "FiQA-2018: 57k financial posts, 648 queries",
    "arguana": "ArguAna: 8.7k arguments, 1,406 queries",
    "webis-touche2020": "Touche-2020: 382k arguments, 49 queries",
    "quora": "Quora duplicate questions: 523k questions, 10k queries",
    "dbpedia-entity": "DBPedia-Entity: 4.6M entities, 400 queries",
    "scidocs": "SCIDOCS: 25k abstracts, 1,000 queries",
    "fever": "FEVER: 5.4M Wikipedia abstracts, 6,666 queries",
    "climate-fever": "Climate-FEVER: 5.4M Wikipedia abstracts, 1,535 queries",
    "scifact": "SciFact: 5,183 scientific abstracts; 809 train and 300 test claims",
    "msmarco": "MS MARCO passage: 8.8M passages, 6,980 dev queries",
}

REGISTRY: dict[str, DatasetSpec] = {
    name: DatasetSpec(
        name=name, description=f"BEIR {text}", layout="beir", mirror_names=(name,),
        default_split="dev" if name == "msmarco" else "test",
    )
    for name, text in _BEIR.items()
}
REGISTRY["vaswani"] = DatasetSpec(
    name="vaswani",
    description="Vaswani (NPL): 11,429 physics abstracts, 93 queries, TREC format",
    layout="trec",
    mirror_names=("vaswani_npl", "vaswani"),
    trec_files={"corpus": "corpus/doc-text.trec", "topics": "query-text.trec", "qrels": "qrels"},
)
REGISTRY["dl19"] = DatasetSpec(
    name="dl19",
    description="TREC DL 2019 passage, reranking slice: 43 judged queries and their BM25 top-100 (4,297 passages)",
    layout="beir",
    mirror_names=("trec_dl19_passage_bm25top100", "dl19"),
    relevance_threshold=2,
    candidates_file="raw/trec_results_dl19.txt",
    downloadable=False,
    note="Reranking only: many judged passages lie outside the candidate pool. Relevant means grade >= 2.",
)
_LOCO_MIRRORS = ("loco", "LoCoV1")  # one folder for all LoCoV1 tasks: see regard/loco.py
REGISTRY["loco"] = DatasetSpec(
    name="loco", description="LoCoV1 long-document retrieval, all 12 tasks (evaluated one by one and averaged)",
    layout="loco", mirror_names=_LOCO_MIRRORS,
)
for _task in ("summ_screen_fd", "gov_report", "qmsum", "qasper_title", "qasper_abstract", "multifieldqa",
              "2wikimqa", "passage_retrieval", "legal_case_reports", "courtlistener_HTML",
              "courtlistener_Plain_Text", "stackoverflow"):
    REGISTRY[f"loco/{_task}"] = DatasetSpec(
        name=f"loco/{_task}", description=f"LoCoV1 task {_task} (long documents, nDCG@10)", layout="loco",
        mirror_names=_LOCO_MIRRORS,
    )


def spec(name: str) -> DatasetSpec:
    """The registry entry for ``name``; raises UnknownDatasetError with suggestions."""
    if name in REGISTRY:
        return REGISTRY[name]
    close = difflib.get_close_matches(name, REGISTRY, n=3)
    hint = f" Did you mean {', '.join(close)}?" if close else ""
    raise UnknownDatasetError(f"unknown dataset {name!r}.{hint} Known: {', '.join(sorted(REGISTRY))}")


def mirror_roots() -> list[Path]:
    """Directories of the local mirror, from ``REGARD_DATA``."""
    return [Path(p) for p in os.environ.get("REGARD_DATA", "").split(os.pathsep) if p]


def cache_root() -> Path:
    """regard's cache directory (``REGARD_CACHE`` or ``~/.cache/regard``)."""
    return Path(os.environ.get("REGARD_CACHE") or Path.home() / ".cache" / "regard")


def locate(name: str) -> Path | None:
    """The folder holding dataset ``name`` locally (mirror first, then cache), or None."""
    entry = spec(name)
    for root in mirror_roots():
        for folder in (*entry.mirror_names, name):
            if (root / folder).is_dir():
                return root / folder
    cached = cache_root() / "datasets" / ("loco" if entry.layout == "loco" else name)
    return cached if cached.is_dir() else None


def download(name: str) -> Path:
    """Download dataset ``name`` into the cache (atomically) and return its folder."""
    entry = spec(name)
    if entry.layout == "loco":
        from regard import loco

        target = cache_root() / "datasets" / "loco"
        return target if target.is_dir() else loco.download(target)
    target = cache_root() / "datasets" / name
    if target.is_dir():
        return target
    if not entry.downloadable:
        raise RegardError(f"dataset {name!r} has no download; put its folder in a REGARD_DATA directory. {entry.note}")
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{name}.", dir=target.parent))
    try:
        if entry.layout == "beir":
            _download_beir(name, staging)
        else:
            for relative in entry.trec_files.values():
                (staging / relative).parent.mkdir(parents=True, exist_ok=True)
                urllib.request.urlretrieve(VASWANI_URL.format(file=relative), staging / relative)
        os.replace(staging, target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return target


def _download_beir(name: str, staging: Path) -> None:
    try:
        from beir import util as beir_util
    except ImportError:
        raise MissingExtraError("beir", "download", f"downloading BEIR dataset {name!r}") from None
    folder = beir_util.download_and_unzip(BEIR_URL.format(name=name), str(staging / "zip"))
    for item in Path(folder).iterdir():
        shutil.move(str(item), staging / item.name)
    shutil.rmtree(staging / "zip", ignore_errors=True)


class Dataset:
    """A test collection on disk: corpus, queries per split, and relevance judgments."""

    def __init__(self, name: str, root: Path, entry: DatasetSpec):
        self.name = name
        self.root = root
        self.spec = entry

    @property
    def corpus(self) -> Corpus:
        """The documents, streamed and validated."""
        if self.spec.layout == "beir":
            return Corpus(self.root, name=self.name)
        return Corpus(self.root / self.spec.trec_files["corpus"], fmt="trec", name=self.name)

    @property
    def relevance_threshold(self) -> int:
        return self.spec.relevance_threshold

    @property
    def cache_name(self) -> str:
        """The name under which cached indexes and stage outputs of this dataset are kept.

        A registry name is its own; a folder or files add a hash of their absolute paths, so two
        folders that share a base name never share cached indexes.
        """
        if self.name in REGISTRY:
            return self.name
        return f"{self.name}-{_path_hash(self.root)}"

    def splits(self) -> list[str]:
        """Splits with judgments (BEIR: files in ``qrels/``; TREC collections: ``test``)."""
        if self.spec.layout == "beir":
            return sorted(p.stem for p in (self.root / "qrels").glob("*.tsv"))
        return ["test"]

    def qrels(self, split: str | None = None) -> Qrels:
        """Relevance judgments of ``split`` (default: the dataset's evaluation split)."""
        split = split or self.spec.default_split
        if self.spec.layout == "beir":
            path = self.root / "qrels" / f"{split}.tsv"
            if not path.exists():
                raise RegardError(f"{self.name} has no split {split!r}; splits: {', '.join(self.splits())}")
            return read_beir_qrels(path)
        if split != "test":
            raise RegardError(f"{self.name} has only the 'test' split")
        return read_trec_qrels(self.root / self.spec.trec_files["qrels"])

    def queries(self, split: str | None = None) -> list[Query]:
        """The queries judged in ``split``, in the order of the queries file."""
        judged = self.qrels(split)
        return [q for q in self._all_queries if q.id in judged]

    @cached_property
    def _all_queries(self) -> list[Query]:
        if self.spec.layout == "beir":
            return read_jsonl_queries(self.root / "queries.jsonl")
        return read_trec_topics(self.root / self.spec.trec_files["topics"])

    def candidates(self) -> Run:
        """The first-stage run shipped with a reranking dataset."""
        if not self.spec.candidates_file:
            raise RegardError(f"{self.name} ships no candidate run")
        return read_trec_run(self.root / self.spec.candidates_file)

    def __repr__(self) -> str:
        return f"Dataset({self.name!r}, root={str(self.root)!r})"


def _path_hash(*paths: Path) -> str:
    text = "\n".join(str(Path(p).resolve()) for p in paths)
    return hashlib.sha256(text.encode()).hexdigest()[:8]


def beir_folder(path: str | Path, relevance_threshold: int = 1) -> Dataset:
    """A dataset from a folder in the BEIR layout: ``corpus.jsonl``, ``queries.jsonl``, ``qrels/<split>.tsv``."""
    root = Path(path)
    missing = [name for name in ("corpus.jsonl", "queries.jsonl", "qrels") if not (root / name).exists()]
    if missing:
        raise RegardError(f"{root}: not a BEIR folder (missing {', '.join(missing)}; expected corpus.jsonl, "
                          "queries.jsonl and qrels/<split>.tsv)")
    splits = sorted(p.stem for p in (root / "qrels").glob("*.tsv"))
    if not splits:
        raise RegardError(f"{root}: no qrels/<split>.tsv file")
    entry = DatasetSpec(
        name=root.resolve().name, description=f"BEIR folder {root}", layout="beir",
        default_split="test" if "test" in splits else splits[0], relevance_threshold=relevance_threshold,
        downloadable=False,
    )
    return Dataset(entry.name, root, entry)


class FilesDataset(Dataset):
    """Queries and judgments from a topics file and a qrels file, with the corpus of ``base`` when given.

    It has one split, ``test``: the qrels file. Without a base dataset there is no corpus, which is
    enough to evaluate index folders and run files.
    """

    SPLIT = "test"

    def __init__(self, queries: str | Path, qrels: str | Path, base: Dataset | None = None,
                 relevance_threshold: int | None = None):
        self.queries_path, self.qrels_path, self.base = Path(queries), Path(qrels), base
        threshold = relevance_threshold if relevance_threshold is not None else (
            base.relevance_threshold if base is not None else 1)
        name = base.name if base is not None else self.queries_path.stem.replace(".", "-")
        entry = DatasetSpec(
            name=name, description=f"topics {self.queries_path}, qrels {self.qrels_path}",
            layout=base.spec.layout if base is not None else "files", default_split=self.SPLIT,
            relevance_threshold=threshold, downloadable=False,
            candidates_file=base.spec.candidates_file if base is not None else None,
        )
        super().__init__(name, base.root if base is not None else self.queries_path.parent, entry)

    @property
    def cache_name(self) -> str:
        return f"{self.name}-{_path_hash(self.root, self.queries_path, self.qrels_path)}"

    @property
    def corpus(self):
        if self.base is None:
            raise RegardError(f"{self.queries_path} and {self.qrels_path} come without a corpus: name one with "
                              "--dataset (a folder or dataset name) to build indexes")
        return self.base.corpus

    def splits(self) -> list[str]:
        return [self.SPLIT]

    def qrels(self, split: str | None = None) -> Qrels:
        """The judgments of the qrels file (TREC or BEIR format)."""
        if (split or self.SPLIT) != self.SPLIT:
            raise RegardError(f"judgments come from {self.qrels_path}: there is no split {split!r}")
        return read_qrels_file(self.qrels_path)

    @cached_property
    def _all_queries(self) -> list[Query]:
        return read_queries_file(self.queries_path)

    def candidates(self) -> Run:
        if self.base is None:
            raise RegardError(f"{self.queries_path}: no dataset given, so no candidate run")
        return self.base.candidates()


def open_dataset(dataset: str | None = None, queries: str | None = None, qrels: str | None = None,
                 relevance_threshold: int | None = None, download_missing: bool = True):
    """The dataset the command line names: a dataset name, a BEIR folder or ``irds:<id>``, and/or topics and qrels files.

    ``queries`` and ``qrels`` go together; they replace the dataset's own queries and judgments.
    """
    if (queries is None) != (qrels is None):
        raise RegardError("--queries and --qrels go together: give both files, or neither")
    if dataset is None and queries is None:
        raise RegardError("name a dataset (--dataset NAME, FOLDER or irds:ID) or give --queries and --qrels files")
    base = None if dataset is None else load_dataset(dataset, download_missing, relevance_threshold)
    if queries is None:
        return base
    return FilesDataset(queries, qrels, base, relevance_threshold)


def corpus_fingerprint(dataset: Dataset) -> str:
    """A fingerprint of the bytes of the files ``dataset``'s corpus is read from.

    Each file is hashed once per change of its path, size, modification time or inode (digests are
    remembered under ``$REGARD_CACHE/file-digests``), so caches keyed by it notice an edited mirror cheaply.
    """
    from regard.data.fingerprint import files_fingerprint

    try:
        corpus = dataset.corpus
    except RegardError:  # topics and qrels files without a corpus
        corpus = None
    files = getattr(corpus, "files", None)
    if files is None:  # no local corpus files (ir_datasets versions its data by id)
        return hashlib.sha256(f"{type(corpus).__name__}:{dataset.cache_name}".encode()).hexdigest()
    return files_fingerprint(files(), memo_dir=cache_root() / "file-digests")


def load_dataset(name: str | Path, download_missing: bool = True, relevance_threshold: int | None = None):
    """Open a dataset: a registry name (mirror, cache or download), a BEIR folder, or ``irds:<id>``.

    ``relevance_threshold`` (the lowest grade that counts as relevant for recall and MAP) overrides
    the dataset's own.
    """
    name = str(name)
    if name.startswith(IRDS_PREFIX):
        from regard.irds import IrdsDataset

        return IrdsDataset(name[len(IRDS_PREFIX):], relevance_threshold=relevance_threshold)
    if name not in REGISTRY and Path(name).is_dir():
        return beir_folder(name, 1 if relevance_threshold is None else relevance_threshold)
    if name not in REGISTRY and os.sep in name and not Path(name).exists():
        raise UnknownDatasetError(f"{name}: no such folder, and not a dataset name (see: regard datasets list)")
    entry = spec(name)
    if relevance_threshold is not None:
        entry = replace(entry, relevance_threshold=relevance_threshold)
    root = locate(name)
    if root is None:
        if not download_missing:
            raise RegardError(f"dataset {name!r} is not available locally; run: regard datasets download {name}")
        root = download(name)
    if entry.layout == "loco":
        from regard.loco import LocoDataset

        return LocoDataset(name, root, entry)
    return Dataset(name, root, entry)
