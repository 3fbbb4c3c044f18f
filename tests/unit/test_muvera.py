"""MUVERA fixed-dimensional encodings on random point clouds: exactness against a plain loop, Chamfer tracking."""

from __future__ import annotations

import numpy as np
import pytest

from regard.encoders.multivector import RaggedVectors
from regard.encoders.muvera import FDEConfig, FDEEncoder, gray_code, partition_ids
from regard.errors import RegardError


def unit(x: np.ndarray) -> np.ndarray:
    return (x / np.linalg.norm(x, axis=-1, keepdims=True)).astype(np.float32)


def clustered_clouds(rng, count, sizes, dim=32, centres=40, spread=0.5):
    """Point clouds whose points sit near shared centres, as token vectors of related texts do."""
    centre = rng.standard_normal((centres, dim))
    return [unit(centre[rng.integers(0, centres, size=n)] + spread * rng.standard_normal((n, dim)))
            for n in rng.integers(sizes[0], sizes[1], size=count)]


def chamfer(query: np.ndarray, doc: np.ndarray) -> float:
    return float((query @ doc.T).max(axis=1).sum())


def loop_fde(points: np.ndarray, encoder: FDEEncoder, document: bool) -> np.ndarray:
    """The FDE written as plainly as the paper states it, one point and one partition at a time."""
    c = encoder.config
    k, dp = c.k_sim, c.projection_dimension
    blocks = np.zeros((c.r_reps, c.partitions, dp))
    for rep in range(c.r_reps):
        hyperplanes = encoder._simhash[:, rep * k:(rep + 1) * k] if k else np.zeros((c.dimension, 0))
        project = (encoder._projection[:, rep * dp:(rep + 1) * dp] if encoder._projection is not None
                   else np.eye(c.dimension))
        bits = [[int(v > 0) for v in p @ hyperplanes] for p in points]
        ids = []
        for b in bits:  # append each bit to a Gray code
            index = 0
            for bit in b:
                index = (index << 1) + (bit ^ (index & 1))
            ids.append(index)
        size = np.zeros(c.partitions)
        for p, i in zip(points, ids):
            blocks[rep, i] += p @ project
            size[i] += 1
        for i in range(c.partitions):
            if size[i] and document:
                blocks[rep, i] /= size[i]
            elif not size[i] and document and c.fill_empty and k:
                target = [(gray_code(np.int64(i)) >> (k - 1 - j)) & 1 for j in range(k)]
                distance = [sum(x != y for x, y in zip(b, target)) for b in bits]
                blocks[rep, i] = points[int(np.argmin(distance))] @ project
    raw = blocks.ravel()
    if not c.final_dimension:
        return raw
    final = np.zeros(c.final_dimension)
    for position, value in enumerate(raw):
        final[encoder._sketch_index[position]] += encoder._sketch_sign[position] * value
    return final


@pytest.mark.parametrize("config", [
    FDEConfig(12, k_sim=3, d_proj=5, r_reps=3),
    FDEConfig(12, k_sim=2, d_proj=None, r_reps=2),
    FDEConfig(12, k_sim=4, d_proj=6, r_reps=2, fill_empty=False),
    FDEConfig(12, k_sim=0, d_proj=4, r_reps=3),
    FDEConfig(12, k_sim=3, d_proj=4, r_reps=4, final_dimension=20),
])
def test_vectorised_encoding_equals_the_plain_definition(config):
    rng = np.random.default_rng(1)
    sets = [rng.standard_normal((n, 12)).astype(np.float32) for n in (1, 3, 7, 30)]
    encoder = FDEEncoder(config)
    ragged = RaggedVectors.from_list(sets, 12)
    documents, queries = encoder.encode_documents(ragged), encoder.encode_queries(ragged)
    assert documents.shape == (4, config.output_dimension)
    for i, points in enumerate(sets):
        np.testing.assert_allclose(documents[i], loop_fde(points, encoder, document=True), atol=2e-5)
        np.testing.assert_allclose(queries[i], loop_fde(points, encoder, document=False), atol=2e-5)


def test_partition_ids_are_inverse_gray_codes():
    k = 4
    bits = np.array([[(v >> (k - 1 - j)) & 1 for j in range(k)] for v in range(1 << k)])
    ids = partition_ids(bits)
    assert sorted(ids.tolist()) == list(range(1 << k))  # a bijection onto the partitions
    np.testing.assert_array_equal(gray_code(ids), np.arange(1 << k))  # the Gray code of the id is the bits
    # Neighbouring partitions differ in exactly one SimHash bit.
    codes = gray_code(np.arange(1 << k, dtype=np.int64))
    assert all(bin(int(a ^ b)).count("1") == 1 for a, b in zip(codes[:-1], codes[1:]))


def test_paper_setting_is_10240_dimensions():
    assert FDEConfig(384, k_sim=5, d_proj=16, r_reps=20).output_dimension == 10240
    assert FDEConfig(384, k_sim=5, d_proj=384, r_reps=1).identity_projection


def test_documents_average_and_fill_queries_sum_and_do_not():
    encoder = FDEEncoder(FDEConfig(8, k_sim=3, d_proj=None, r_reps=2))
    point = unit(np.arange(1, 9, dtype=np.float32))[None, :]
    twice = RaggedVectors.from_list([np.repeat(point, 2, axis=0)], 8)
    document = encoder.encode_documents(twice).reshape(2, 8, 8)
    query = encoder.encode_queries(twice).reshape(2, 8, 8)
    # The document's only point fills every partition (it is the nearest to all of them) at its own value.
    np.testing.assert_allclose(document, np.broadcast_to(point, (2, 8, 8)), atol=1e-6)
    # The query sums its two copies into one partition per repetition; the others stay empty.
    assert ((np.abs(query).sum(axis=2) > 0).sum(axis=1) == 1).all()
    np.testing.assert_allclose(query.sum(axis=1), 2 * np.broadcast_to(point, (2, 8)), atol=1e-6)


def test_fde_inner_product_tracks_chamfer_and_error_shrinks_with_repetitions():
    rng = np.random.default_rng(0)
    queries, docs = clustered_clouds(rng, 20, (6, 12)), clustered_clouds(rng, 60, (20, 60))
    exact = np.array([[chamfer(q, d) for d in docs] for q in queries]).ravel()
    q_rag, d_rag = RaggedVectors.from_list(queries, 32), RaggedVectors.from_list(docs, 32)
    errors, correlations = [], []
    for reps in (1, 4, 16, 64):
        encoder = FDEEncoder(FDEConfig(32, k_sim=4, d_proj=16, r_reps=reps, seed=3))
        approx = (encoder.encode_queries(q_rag) @ encoder.encode_documents(d_rag).T).ravel() / reps
        scale = (approx @ exact) / (approx @ approx)  # the FDE estimate is biased low; compare shapes
        errors.append(np.sqrt(np.mean((scale * approx - exact) ** 2)) / exact.std())
        correlations.append(np.corrcoef(approx, exact)[0, 1])
    assert errors == sorted(errors, reverse=True) and errors[-1] < 0.5 * errors[0]
    assert correlations[-1] > 0.6 and correlations[-1] > correlations[0] + 0.3


def test_encodings_are_deterministic_for_a_seed():
    rng = np.random.default_rng(5)
    clouds = RaggedVectors.from_list(clustered_clouds(rng, 5, (3, 40)), 32)
    config = FDEConfig(32, k_sim=5, d_proj=8, r_reps=6, final_dimension=300, seed=11)
    first, second = FDEEncoder(config), FDEEncoder(FDEConfig(**config.as_dict()))
    np.testing.assert_array_equal(first.encode_documents(clouds), second.encode_documents(clouds))
    np.testing.assert_array_equal(first.encode_queries(clouds), second.encode_queries(clouds))
    other = FDEEncoder(FDEConfig(**{**config.as_dict(), "seed": 12}))
    assert not np.allclose(first.encode_documents(clouds), other.encode_documents(clouds))


def test_blocks_do_not_change_the_result(monkeypatch):
    import regard.encoders.muvera as muvera

    rng = np.random.default_rng(2)
    clouds = RaggedVectors.from_list(clustered_clouds(rng, 30, (1, 50)), 32)
    encoder = FDEEncoder(FDEConfig(32, k_sim=3, d_proj=8, r_reps=5))
    whole = encoder.encode_documents(clouds)
    monkeypatch.setattr(muvera, "_BLOCK_ELEMENTS", 1)  # one set per block
    np.testing.assert_allclose(encoder.encode_documents(clouds), whole, atol=1e-6)


@pytest.mark.parametrize("bad", [dict(k_sim=-1), dict(k_sim=40), dict(d_proj=0), dict(r_reps=0),
                                 dict(final_dimension=0), dict(dimension=0)])
def test_bad_parameters_are_clear_errors(bad):
    with pytest.raises(RegardError):
        FDEConfig(**{"dimension": 16, **bad})


def test_wrong_dimension_and_empty_sets_are_clear_errors():
    encoder = FDEEncoder(FDEConfig(16, k_sim=2, d_proj=4, r_reps=1))
    with pytest.raises(RegardError, match="16"):
        encoder.encode_queries(RaggedVectors.from_list([np.ones((2, 8), np.float32)], 8))
    empty = RaggedVectors(np.ones((2, 16), np.float32), np.array([0, 2, 2]))
    with pytest.raises(RegardError, match="empty"):
        encoder.encode_documents(empty)
