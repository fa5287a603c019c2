"""Every aggregator equation against values computed by hand on tiny maps."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from dfcnn.features import functional as Fn
from dfcnn.features.pooling import AGGREGATORS, build_aggregator
from dfcnn.features.regions import regions_tensor

# A 2 x 3 x 3 map (L=2, H=3, W=3).
CH0 = [[1, 0, 2], [0, 3, 0], [0, 0, 0]]
CH1 = [[0, 1, 0], [1, 0, 1], [0, 1, 4]]
# S' = [[1,1,2],[1,3,1],[0,1,4]]: sum 14, sum of squares 34.
WHOLE = (0, 0, 3, 3)
LOWER_LEFT = (0, 1, 2, 2)  # x=0, y=1, 2x2: ch0 [[0,3],[0,0]], ch1 [[1,0],[0,1]], S' [[1,3],[0,1]]


@pytest.fixture
def x():
    return torch.tensor([CH0, CH1], dtype=torch.float64)[None]


@pytest.fixture
def regions():
    return torch.tensor([WHOLE, LOWER_LEFT])


def close(a, b, tol=1e-9):
    np.testing.assert_allclose(np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64), rtol=tol, atol=tol)


def test_global_poolings(x):
    close(Fn.gap(x)[0], [6 / 9, 8 / 9])
    close(Fn.mac(x)[0], [3, 4])
    close(Fn.spoc(x)[0], [6, 8])
    # GeM p=3: ch0 cubes 1+8+27 = 36, ch1 cubes 1+1+1+1+64 = 68 (zeros clamp to eps, eps^3 ~ 0)
    close(Fn.gem(x, p=3.0)[0], [(36 / 9) ** (1 / 3), (68 / 9) ** (1 / 3)], tol=1e-7)
    close(Fn.gem(x, p=1.0)[0], Fn.gap(x)[0], tol=1e-5)


def test_crow_eq8(x):
    n = math.sqrt(34.0)  # ||S'||_2
    alpha = np.sqrt(np.array([[1, 1, 2], [1, 3, 1], [0, 1, 4]]) / n)
    close(Fn.crow_spatial_weight(x)[0], alpha)
    q0, q1 = 3 / 9, 5 / 9  # non-zero fractions
    beta = [math.log((q0 + q1) / (1e-6 + q0)), math.log((q0 + q1) / (1e-6 + q1))]
    close(Fn.crow_channel_weight(x)[0], beta)
    a1 = math.sqrt(1 / n)
    f0 = beta[0] * (a1 * 1 + math.sqrt(2 / n) * 2 + math.sqrt(3 / n) * 3)
    f1 = beta[1] * (4 * a1 * 1 + math.sqrt(4 / n) * 4)
    close(Fn.crow(x)[0], [f0, f1])


def test_crow_of_an_all_zero_map_is_zero():
    close(Fn.crow(torch.zeros(1, 3, 2, 2, dtype=torch.float64))[0], [0, 0, 0])


def test_rmac_eq7_region_max(x, regions):
    vectors, weights = Fn.rmac(x, regions)
    close(vectors[0], [[3, 4], [3, 1]])
    close(weights[0], [1, 1])
    pooled = Fn.whiten_sum_pool(vectors, weights)
    expected = np.array([0.6, 0.8]) + np.array([3, 1]) / math.sqrt(10)
    close(pooled[0], expected / np.linalg.norm(expected))


def test_dfcnn_channel_terms_eqs_9_and_13(x):
    q = [3 / 9, 5 / 9]
    close(Fn.nonzero_fraction(x)[0], q)
    # mean positive amplitude: ch0 6/3 = 2, ch1 8/5 = 1.6; divided by the largest (2)
    close(Fn.positive_amplitude(x)[0], [1.0, 0.8])
    gamma = [q[0] + 1.0, q[1] + 0.8]
    close(Fn.channel_response(x)[0], gamma)
    close(Fn.channel_sensitivity(Fn.channel_response(x))[0], [1 - gamma[0] / 2, 1 - gamma[1] / 2])
    c = 1e-6
    lam = [math.log((2 * c + sum(gamma)) / (c + g)) for g in gamma]
    close(Fn.channel_sensitivity_weight(Fn.channel_response(x))[0], lam)


def test_dfcnn_region_terms_eqs_10_to_12(x, regions):
    close(Fn.region_area(regions, 3, 3), [1.0, 4 / 9])  # Eq. 11
    beta = [math.sqrt(34) / (14 * 1.0), math.sqrt(1 + 9 + 0 + 1) / (14 * 4 / 9)]  # Eq. 10
    close(Fn.region_significance(x, regions)[0], beta)
    gamma = [3 / 9 + 1.0, 5 / 9 + 0.8]
    lam = torch.tensor([[math.log((2e-6 + sum(gamma)) / (1e-6 + g)) for g in gamma]], dtype=torch.float64)
    # Eq. 12: region sums whole (6, 8), lower-left (3, 2); lambda-weighted, power 0.5
    expected = [
        [math.sqrt(lam[0, 0] * 6), math.sqrt(lam[0, 1] * 8)],
        [math.sqrt(lam[0, 0] * 3), math.sqrt(lam[0, 1] * 2)],
    ]
    close(Fn.dfcnn_region_vectors(x, regions, lam, alpha=0.5)[0], expected)
    vectors, weights = Fn.dfcnn(x, regions)
    close(vectors[0], expected)
    close(weights[0], beta)


def test_whiten_sum_pool_twice_normalised(x, regions):
    vectors = torch.tensor([[[3.0, 4.0], [3.0, 1.0]]], dtype=torch.float64)
    weights = torch.tensor([[2.0, 0.5]], dtype=torch.float64)
    mean = torch.tensor([1.0, 0.0], dtype=torch.float64)
    proj = torch.tensor([[2.0, 0.0], [0.0, 1.0]], dtype=torch.float64)
    # region 1: l2 (0.6, 0.8) -> P(v - m) = (-0.8, 0.8) -> l2 (-1, 1)/sqrt2
    # region 2: l2 (3, 1)/sqrt10 -> (2(3/sqrt10 - 1), 1/sqrt10) -> l2
    r1 = np.array([-1.0, 1.0]) / math.sqrt(2)
    r2 = np.array([2 * (3 / math.sqrt(10) - 1), 1 / math.sqrt(10)])
    r2 = r2 / np.linalg.norm(r2)
    f = 2.0 * r1 + 0.5 * r2
    close(Fn.whiten_sum_pool(vectors, weights, mean, proj)[0], f / np.linalg.norm(f))
    close(Fn.whiten_sum_pool(vectors, weights, mean, proj, normalise=False)[0], f)


def _dfcnn_reference(S: np.ndarray, regions, alpha=0.5, c=1e-6):
    """SPEC §2.3 written out with numpy loops, independent of the torch code."""
    L, H, W = S.shape
    Sp = S.sum(0)
    gamma = np.zeros(L)
    means = np.zeros(L)
    for l in range(L):
        pos = S[l][S[l] > 0]
        means[l] = pos.mean() if pos.size else 0.0
    for l in range(L):
        gamma[l] = (S[l] > 0).mean() + (means[l] / means.max() if means.max() > 0 else 0)
    lam = np.log((L * c + gamma.sum()) / (c + gamma))
    vecs, betas = [], []
    for x0, y0, w, h in regions:
        sub = S[:, y0 : y0 + h, x0 : x0 + w]
        vecs.append((lam * sub.sum(axis=(1, 2))) ** alpha)
        area = w * h / (W * H)
        betas.append(np.sqrt((Sp[y0 : y0 + h, x0 : x0 + w] ** 2).sum()) / (Sp.sum() * area))
    return np.array(vecs), np.array(betas)


def test_dfcnn_on_a_3x4x5_map_matches_a_loop_reference():
    rng = np.random.default_rng(0)
    S = np.maximum(rng.normal(size=(3, 4, 5)), 0)
    regions = regions_tensor(5, 4, 3)
    vectors, weights = Fn.dfcnn(torch.from_numpy(S)[None], regions)
    ref_v, ref_b = _dfcnn_reference(S, regions.tolist())
    close(vectors[0], ref_v)
    close(weights[0], ref_b)


@pytest.mark.parametrize("name", AGGREGATORS)
def test_module_shells_batch_consistently(name):
    """The nn.Module shell on a batch equals the shell on each map alone, shapes as documented."""
    torch.manual_seed(0)
    x = torch.relu(torch.randn(2, 3, 4, 5, dtype=torch.float64))
    agg = build_aggregator(name)
    vectors, weights = agg(x)
    n_regions = len(regions_tensor(5, 4, 3)) if agg.regional else 1
    assert vectors.shape == (2, n_regions, 3) and weights.shape == (2, n_regions)
    for b in range(2):
        v1, w1 = agg(x[b : b + 1])
        close(v1[0], vectors[b])
        close(w1[0], weights[b])
    assert torch.all(vectors >= 0)


def test_unknown_aggregator_lists_the_options():
    with pytest.raises(ValueError, match="gap, mac, spoc, gem, rmac, crow, dfcnn"):
        build_aggregator("vlad")
