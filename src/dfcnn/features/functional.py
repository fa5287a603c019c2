"""Pure tensor functions of the aggregators (SPEC §2.3), one per equation.

Every function takes a batch of feature maps ``x`` of shape ``[B, L, H, W]`` (non-negative: the
last convolutional map after its activation) and returns tensors; nothing here holds state, so
the ``nn.Module`` shells in :mod:`dfcnn.features.pooling` stay thin and these stay testable by
hand on tiny maps. Notation: ``S_l(x, y)`` channel ``l``; ``S'(x, y) = sum_l S_l(x, y)``.

Regional aggregators return ``(vectors [B, R, L], weights [B, R])``; :func:`whiten_sum_pool`
turns them into one descriptor (each region vector L2 -> PCA-whiten -> L2, weighted sum, L2).
"""

from __future__ import annotations

import torch

EPS = 1e-6  # numerical guard for divisions and GeM's clamp
DFCNN_C = 1e-6  # C of Eq. 13


def l2n(x: torch.Tensor, dim: int = -1, eps: float = 1e-12) -> torch.Tensor:
    """L2-normalise along ``dim``; an all-zero vector stays zero."""
    return x / x.norm(p=2, dim=dim, keepdim=True).clamp_min(eps)


# --- global pooling -----------------------------------------------------------------------


def gap(x: torch.Tensor) -> torch.Tensor:
    """Global average pooling: f_l = mean_{x,y} S_l(x, y)."""
    return x.mean(dim=(-2, -1))


def mac(x: torch.Tensor) -> torch.Tensor:
    """MAC (maximum activation of convolutions): f_l = max_{x,y} S_l(x, y)."""
    return x.amax(dim=(-2, -1))


def spoc(x: torch.Tensor) -> torch.Tensor:
    """SPoC (sum pooling): f_l = sum_{x,y} S_l(x, y)."""
    return x.sum(dim=(-2, -1))


def gem(x: torch.Tensor, p: float = 3.0, eps: float = EPS) -> torch.Tensor:
    """GeM (generalised mean): f_l = (mean_{x,y} S_l(x, y)^p)^(1/p), responses clamped at eps."""
    return x.clamp_min(eps).pow(p).mean(dim=(-2, -1)).pow(1.0 / p)


# --- R-MAC (Eq. 7) ------------------------------------------------------------------------


def region_max(x: torch.Tensor, regions: torch.Tensor) -> torch.Tensor:
    """Eq. 7 of the paper (R-MAC): f_{R,l} = max_{(x,y) in R} S_l(x, y), for every region R.

    ``regions`` is ``[R, 4]`` of ``(x, y, w, h)``; returns ``[B, R, L]``.
    """
    return torch.stack([x[..., y : y + h, x0 : x0 + w].amax(dim=(-2, -1)) for x0, y, w, h in regions.tolist()], dim=1)


def rmac(x: torch.Tensor, regions: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Eq. 7: R-MAC region vectors with unit weights (summed after the whitening chain)."""
    vectors = region_max(x, regions)
    return vectors, torch.ones(vectors.shape[:2], dtype=x.dtype, device=x.device)


# --- CroW (Eq. 8) -------------------------------------------------------------------------


def crow_spatial_weight(x: torch.Tensor) -> torch.Tensor:
    """Eq. 8 spatial weight: alpha = (S' / ||S'||_2)^(1/2), ``[B, H, W]`` (Kalantidis et al. 2016)."""
    s = x.sum(dim=1)
    norm = s.flatten(1).norm(p=2, dim=1).clamp_min(1e-12)
    return (s / norm[:, None, None]).clamp_min(0).sqrt()


def nonzero_fraction(x: torch.Tensor) -> torch.Tensor:
    """Q_l: the fraction of non-zero (positive, for a map after ReLU) responses of channel l."""
    return (x > 0).to(x.dtype).mean(dim=(-2, -1))


def crow_channel_weight(x: torch.Tensor, eps: float = EPS) -> torch.Tensor:
    """Eq. 8 channel weight: beta_l = log(sum_k Q_k / (eps + Q_l)), ``[B, L]``."""
    q = nonzero_fraction(x)
    total = q.sum(dim=1, keepdim=True).clamp_min(1e-12)  # an all-zero map gives f = 0 anyway
    return torch.log(total / (eps + q))


def crow(x: torch.Tensor, eps: float = EPS) -> torch.Tensor:
    """Eq. 8 of the paper (CroW): f_l = sum_{x,y} alpha_xy beta_l S_l(x, y)."""
    alpha = crow_spatial_weight(x)
    beta = crow_channel_weight(x, eps)
    return (x * alpha[:, None]).sum(dim=(-2, -1)) * beta


# --- DF-CNN (Eqs. 9-13) -------------------------------------------------------------------


def positive_amplitude(x: torch.Tensor) -> torch.Tensor:
    """I_l: mean amplitude of channel l's positive responses over the largest such mean (0..1)."""
    pos = x.clamp_min(0)
    count = (x > 0).to(x.dtype).sum(dim=(-2, -1))
    mean_pos = pos.sum(dim=(-2, -1)) / count.clamp_min(1)
    top = mean_pos.amax(dim=1, keepdim=True)
    return torch.where(top > 0, mean_pos / top.clamp_min(1e-12), torch.zeros_like(mean_pos))


def channel_response(x: torch.Tensor) -> torch.Tensor:
    """gamma_l = Q_l + I_l in [0, 2]: how often and how strongly channel l fires (Eqs. 9, 13)."""
    return nonzero_fraction(x) + positive_amplitude(x)


def channel_sensitivity(gamma: torch.Tensor) -> torch.Tensor:
    """Eq. 9 of the paper: channel sensitivity N_l = 1 - gamma_l / 2 (logged for inspection)."""
    return 1.0 - gamma / 2.0


def channel_sensitivity_weight(gamma: torch.Tensor, c: float = DFCNN_C) -> torch.Tensor:
    """Eq. 13 of the paper: lambda_l = log((L·C + sum_k gamma_k) / (C + gamma_l)), ``[B, L]``."""
    n_channels = gamma.shape[-1]
    return torch.log((n_channels * c + gamma.sum(dim=-1, keepdim=True)) / (c + gamma))


def region_area(regions: torch.Tensor, H: int, W: int) -> torch.Tensor:
    """Eq. 11 of the paper: relative region area A_r = w_r h_r / (W H), ``[R]``."""
    return (regions[:, 2] * regions[:, 3]).to(torch.float64) / float(W * H)


def region_significance(x: torch.Tensor, regions: torch.Tensor, eps: float = EPS) -> torch.Tensor:
    """Eq. 10 of the paper: beta_r = sqrt(sum_{R_r} S'^2) / (sum_{all} S' · A_r), ``[B, R]``."""
    s = x.sum(dim=1)  # S' [B, H, W]
    H, W = s.shape[-2:]
    energy = torch.stack([s[:, y : y + h, x0 : x0 + w].pow(2).sum(dim=(-2, -1)) for x0, y, w, h in regions.tolist()], dim=1)
    total = s.sum(dim=(-2, -1), keepdim=False)[:, None]  # [B, 1]
    area = region_area(regions, H, W).to(x.dtype).to(x.device)[None]  # [1, R]
    return energy.sqrt() / (total * area).clamp_min(eps)


def dfcnn_region_vectors(x: torch.Tensor, regions: torch.Tensor, lam: torch.Tensor, alpha: float = 0.5) -> torch.Tensor:
    """Eq. 12 of the paper: f_r^l = (sum_{(i,j) in R_r} lambda_l S_l(i, j))^alpha, ``[B, R, L]``."""
    sums = torch.stack([x[..., y : y + h, x0 : x0 + w].sum(dim=(-2, -1)) for x0, y, w, h in regions.tolist()], dim=1)
    return (sums * lam[:, None, :]).clamp_min(0).pow(alpha)


def dfcnn(
    x: torch.Tensor, regions: torch.Tensor, alpha: float = 0.5, c: float = DFCNN_C
) -> tuple[torch.Tensor, torch.Tensor]:
    """Eqs. 9-13: DF-CNN region vectors (Eq. 12, channel weights Eq. 13) and weights beta_r (Eq. 10)."""
    lam = channel_sensitivity_weight(channel_response(x), c)
    return dfcnn_region_vectors(x, regions, lam, alpha), region_significance(x, regions)


# --- the shared tail ----------------------------------------------------------------------


def whiten(x: torch.Tensor, mean: torch.Tensor | None, projection: torch.Tensor | None) -> torch.Tensor:
    """PCA-whitening ``P (x - m)`` with ``projection`` ``[d, L]``; identity when not fitted."""
    if projection is None:
        return x
    return (x - mean) @ projection.T


def whiten_sum_pool(
    vectors: torch.Tensor,
    weights: torch.Tensor,
    mean: torch.Tensor | None = None,
    projection: torch.Tensor | None = None,
    normalise: bool = True,
) -> torch.Tensor:
    """The "twice normalised" tail of Eqs. 7 and 10-12: each region vector L2 -> whiten -> L2,
    then ``F = sum_r weight_r f_r``, then L2 (skipped with ``normalise=False``, so multi-scale
    descriptors can be summed before the final L2). Returns ``[B, d]``.
    """
    v = l2n(whiten(l2n(vectors), mean, projection))
    pooled = (v * weights[..., None]).sum(dim=1)
    return l2n(pooled) if normalise else pooled
