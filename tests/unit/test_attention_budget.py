"""Batches split to an attention budget (rows × length²) give the vectors of the whole batch."""

from __future__ import annotations

import numpy as np
import torch

from regard.encoders.batching import default_attention_budget, rows_within_budget, split_features
from regard.encoders.dense import DenseEncoder
from regard.encoders.multivector import TokenEncoder

TEXTS = [
    "short",
    "The mitochondrial electron transport chain produces reactive oxygen species under hypoxia, which "
    "stabilise HIF-1 alpha and drive a transcriptional programme of glycolytic genes in tumour cells " * 2,
    "p53 mutations are associated with poor prognosis in breast cancer",
    "Antibiotic resistance genes spread between bacteria by horizontal transfer on plasmids",
    "Vitamin D deficiency and the risk of cardiovascular disease: a meta-analysis of prospective cohorts",
]


def test_rows_within_budget_caps_long_rows_only():
    budget = default_attention_budget(64)
    assert rows_within_budget(256, 64, budget) == 64
    assert rows_within_budget(128, 64, budget) == 64
    assert rows_within_budget(512, 64, budget) == 16
    assert rows_within_budget(100_000, 64, budget) == 1
    assert rows_within_budget(512, 64, None) == 64


def test_split_features_drops_padding_on_either_side():
    for left in (False, True):
        lengths = [6, 2, 4, 1]
        mask = torch.zeros((4, 6), dtype=torch.long)
        ids = torch.zeros((4, 6), dtype=torch.long)
        for row, n in enumerate(lengths):
            span = slice(6 - n, 6) if left else slice(0, n)
            mask[row, span] = 1
            ids[row, span] = torch.arange(1, n + 1) + 10 * row
        parts = split_features({"input_ids": ids, "attention_mask": mask, "name": "kept"}, budget=2 * 4 * 4)
        seen = []
        for rows, part in parts:
            assert part["name"] == "kept"
            assert part["attention_mask"].shape[0] * part["attention_mask"].shape[1] ** 2 <= 2 * 6 * 6
            for j, row in enumerate(rows.tolist()):
                kept = part["input_ids"][j][part["attention_mask"][j].bool()]
                assert kept.tolist() == ids[row][mask[row].bool()].tolist()
                seen.append(row)
            # no column that every row of the part pads
            assert bool(part["attention_mask"].bool().any(dim=0).all())
        assert sorted(seen) == [0, 1, 2, 3]
        assert len(parts) > 1


def test_split_features_leaves_a_batch_within_budget_whole():
    mask = torch.ones((3, 4), dtype=torch.long)
    features = {"input_ids": mask.clone(), "attention_mask": mask}
    [(rows, part)] = split_features(features, budget=3 * 16)
    assert part is features and rows.tolist() == [0, 1, 2]


def test_dense_vectors_do_not_depend_on_the_budget():
    whole = DenseEncoder(device="cpu", precision="fp32", attention_budget=0).encode(TEXTS)
    split = DenseEncoder(device="cpu", precision="fp32", batch_size=4, attention_budget=2 * 24 * 24).encode(TEXTS)
    np.testing.assert_allclose(split, whole, atol=1e-5)


def test_token_vectors_do_not_depend_on_the_budget():
    whole = TokenEncoder(device="cpu", precision="fp32", attention_budget=0).encode_documents(TEXTS)
    split = TokenEncoder(device="cpu", precision="fp32", batch_size=4, attention_budget=24 * 24).encode_documents(TEXTS)
    for i in range(len(TEXTS)):
        np.testing.assert_allclose(split[i], whole[i], atol=1e-5)
