"""The visual-word inverted file behind the word shortlist: k-means, cell probing, ratio-test votes."""

import numpy as np
import pytest
from photo_helpers import product

from dfcnn.retrieval.local_store import LocalFeatureStore
from dfcnn.retrieval.verify import LocalFeatureExtractor
from dfcnn.retrieval.visual_words import VisualWords, kmeans, nearest_cells


def _unit(x):
    x = np.asarray(x, np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def test_kmeans_finds_separated_clusters():
    rng = np.random.default_rng(0)
    centres = np.array([[0, 0], [10, 0], [0, 10]], np.float32)
    x = np.concatenate([c + rng.normal(0, 0.3, (200, 2)) for c in centres]).astype(np.float32)
    found = kmeans(x, 3, seed=1)
    # each true centre has one found centre within 0.1
    d = np.linalg.norm(found[:, None] - centres[None], axis=2)
    assert sorted(d.argmin(axis=0).tolist()) == [0, 1, 2] and d.min(axis=0).max() < 0.1


def test_nearest_cells_by_hand():
    cells = np.array([[0, 0], [1, 0], [3, 0]], np.float32)
    got = nearest_cells(np.array([[0.4, 0], [2.1, 0]], np.float32), cells, probes=2).numpy()
    assert got.tolist() == [[0, 1], [2, 1]]


def _vectors_of(stored):
    return lambda rows: stored[np.asarray(rows)]


def test_votes_by_hand():
    # items: A = rows 0-1, B = rows 2-3, C = row 4; two cells holding them all
    stored = _unit([[1, 0, 0], [0.9, 0.1, 0], [0, 1, 0], [0.1, 0.9, 0], [0, 0, 1]])
    offsets = np.array([0, 2, 4, 5])
    vw = VisualWords(np.array([[1, 0, 0], [0, 0.7, 0.7]], np.float32), np.array([0, 2, 5]), np.array([0, 1, 2, 3, 4]))
    query = _unit([[1, 0, 0],  # exactly A's row 0, next item (B's row 3) far away: a vote for A
                   [1, 1, 0],  # halfway between A and B: the ratio test refuses it
                   [0, 0.05, 1]])  # next to C: a vote for C
    votes = vw.votes(query, _vectors_of(stored), offsets, probes=2, ratio=0.8)
    assert votes.tolist() == [1.0, 0.0, 1.0]


def _brute_votes(query, stored, offsets, ratio):
    items = np.searchsorted(offsets, np.arange(len(stored)), side="right") - 1
    sims = query @ stored.T
    out = np.zeros(len(offsets) - 1)
    for row in sims:
        nn = int(row.argmax())
        other = row[items != items[nn]].max()
        d1, d2 = np.sqrt(max(2 - 2 * row[nn], 0)), np.sqrt(max(2 - 2 * other, 0))
        if d1 < ratio * d2:
            out[items[nn]] += 1
    return out


def test_probing_every_cell_equals_brute_force_votes():
    rng = np.random.default_rng(3)
    stored = _unit(rng.normal(size=(600, 16)))
    offsets = np.array([0, 100, 250, 250, 400, 600])  # item 2 has no key-points
    query = _unit(stored[rng.choice(600, 40)] + rng.normal(0, 0.15, (40, 16)))
    vw = VisualWords.build(_vectors_of(stored), len(stored), n_words=8, seed=0)
    exact = _brute_votes(query, stored, offsets, 0.8)
    assert exact.sum() > 20  # the test means something: most noisy copies vote
    # PER_CELL keeps 4 neighbours per probed cell, enough for the second-best other item here
    np.testing.assert_array_equal(vw.votes(query, _vectors_of(stored), offsets, probes=8, ratio=0.8), exact)
    fewer = vw.votes(query, _vectors_of(stored), offsets, probes=1, ratio=0.8)
    assert fewer.shape == exact.shape and fewer.sum() > 0.5 * exact.sum()


def test_too_few_keypoints_give_no_vocabulary_and_small_ones_shrink():
    x = _unit(np.random.default_rng(0).normal(size=(20, 8)))
    assert VisualWords.build(_vectors_of(x), 20, 64) is None
    y = _unit(np.random.default_rng(0).normal(size=(160, 8)))
    assert VisualWords.build(_vectors_of(y), 160, 64).n_words == 10  # 16 key-points per cell on average


def test_extended_files_new_points_like_a_fresh_assignment():
    rng = np.random.default_rng(1)
    x = _unit(rng.normal(size=(400, 8)))
    vw = VisualWords.build(_vectors_of(x[:300]), 300, 10, seed=0)
    grown = vw.extended(x[300:])
    assert grown.n_points == 400
    expected = nearest_cells(x, vw.vocabulary)[:, 0].numpy()
    np.testing.assert_array_equal(grown.words(), expected)


@pytest.fixture(scope="module")
def store():
    ex = LocalFeatureExtractor("sift", max_keypoints=300, max_side=512)
    return LocalFeatureStore.extract([product(k) for k in range(4)], ex, total=4).with_words(1024)


def test_store_words_round_trip_memory_mapped(store, tmp_path):
    assert store.words is not None and store.meta["visual_words"] == store.words.n_words < 1024
    store.save(str(tmp_path / "local"))
    back = LocalFeatureStore.load(str(tmp_path / "local"))
    assert isinstance(back.words.ivf_points, np.memmap)
    np.testing.assert_array_equal(back.words.words(), store.words.words())
    # a product's own key-points vote for it first
    for item in range(4):
        votes = back.word_votes(store.match_rows(np.arange(store.offsets[item], store.offsets[item + 1])), 4, 0.8)
        assert int(votes.argmax()) == item and votes[item] > 0.8 * len(store.get(item))


def test_concat_extends_the_words(store):
    ex = LocalFeatureExtractor("sift", max_keypoints=300, max_side=512)
    more = LocalFeatureStore.extract([product(7)], ex, total=1)
    joined = store.concat(more)
    assert joined.words.n_points == len(joined.keypoints) and joined.words.n_words == store.words.n_words
    own = joined.match_rows(np.arange(joined.offsets[4], joined.offsets[5]))
    assert int(joined.word_votes(own, 4, 0.8).argmax()) == 4


def test_inconsistent_inverted_file_is_refused():
    with pytest.raises(ValueError, match="inverted file"):
        VisualWords(np.zeros((3, 4), np.float32), np.array([0, 1, 2]), np.arange(2))
