"""regard: retrieval and reranking with attention-based models.

    >>> from regard import load_dataset, Index, evaluate
    >>> data = load_dataset("scifact")
    >>> bm25 = Index.build(data, "indexes/scifact-bm25", kind="bm25").retriever()
    >>> run = bm25(data.queries("test"))
    >>> evaluate(run, data.qrels("test"), ["ndcg@10", "recall@100", "map"])
"""

__version__ = "0.1.0"

from regard.progress import quiet_libraries  # noqa: E402

quiet_libraries()

from regard.data import Corpus, Document, Qrels, Query, Run, read_trec_run, write_trec_run  # noqa: E402
from regard.datasets import Dataset, load_dataset  # noqa: E402
from regard.eval import evaluate, evaluate_full, paired_test  # noqa: E402
from regard.kinds import Index  # noqa: E402
from regard.pipeline import Cutoff, Sequence, Stage  # noqa: E402
from regard.retrieval import ReciprocalRankFusion, WeightedScoreFusion  # noqa: E402
from regard.retrieval.run_file import RunFile  # noqa: E402

__all__ = [
    "Corpus", "Cutoff", "Dataset", "Document", "Index", "Qrels", "Query", "ReciprocalRankFusion", "Run", "RunFile",
    "Sequence", "Stage", "WeightedScoreFusion", "evaluate", "evaluate_full", "load_dataset", "paired_test",
    "read_trec_run", "write_trec_run",
]
