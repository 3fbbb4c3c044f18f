"""DenseEncoder precisions: low-precision weights keep the float32 vectors' directions and get their own cache key."""

from __future__ import annotations

import numpy as np
import pytest

from regard.encoders.dense import DenseEncoder

TEXTS = [
    "p53 mutations are associated with poor prognosis in breast cancer",
    "Vitamin D deficiency and the risk of cardiovascular disease: a meta-analysis of prospective cohorts",
    "short",
    "The mitochondrial electron transport chain produces reactive oxygen species under hypoxia, which "
    "stabilise HIF-1 alpha and drive a transcriptional programme of glycolytic genes in tumour cells " * 3,
    "Antibiotic resistance genes spread between bacteria by horizontal transfer on plasmids",
]


@pytest.fixture(scope="module")
def fp32_vectors():
    return DenseEncoder(device="cpu", precision="fp32").encode(TEXTS)


def test_bf16_weights_stay_within_cosine_0999_of_fp32(fp32_vectors):
    import torch

    encoder = DenseEncoder(device="cpu", precision="bf16")
    assert next(encoder.model.parameters()).dtype == torch.bfloat16
    vectors = encoder.encode(TEXTS)
    assert vectors.dtype == np.float32 and vectors.shape == fp32_vectors.shape
    cosines = np.einsum("ij,ij->i", vectors, fp32_vectors)
    assert cosines.min() >= 0.999, cosines
    assert np.linalg.norm(vectors, axis=1) == pytest.approx(1.0, abs=1e-5)
    # The vectors are not simply the fp32 ones: the pass really ran in bfloat16.
    assert np.abs(vectors - fp32_vectors).max() > 1e-5


def test_identity_records_low_precision_weights_and_keeps_fp32_keys():
    fp32 = DenseEncoder(device="cpu", precision="fp32").identity
    bf16 = DenseEncoder(device="cpu", precision="bf16").identity
    assert "weights" not in fp32.as_dict()  # embedding caches of fp32 encoders keep their key
    assert bf16.as_dict()["weights"] == "bf16" and bf16.precision == "bf16"
