"""Thin ``nn.Module`` shells over :mod:`dfcnn.features.functional`, one per aggregator name.

Every aggregator returns ``(vectors [B, R, L], weights [B, R])``: the global ones give one
"region" of weight 1, the regional ones (``rmac``, ``dfcnn``) one vector per R-MAC region plus
the whole map. That way one tail (L2 -> whiten -> L2 -> weighted sum -> L2) serves them all, and
the whitening of ``rmac``/``dfcnn`` is learned on region vectors as SPEC §2.3 asks.
"""

from __future__ import annotations

import torch
from torch import nn

from dfcnn.features import functional as Fn
from dfcnn.features.regions import regions_tensor


class _Global(nn.Module):
    regional = False

    def pool(self, x: torch.Tensor) -> torch.Tensor:  # pragma: no cover - abstract
        raise NotImplementedError

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        v = self.pool(x)[:, None, :]
        return v, torch.ones(v.shape[:2], dtype=x.dtype, device=x.device)


class GAP(_Global):
    def pool(self, x):
        return Fn.gap(x)


class MAC(_Global):
    def pool(self, x):
        return Fn.mac(x)


class SPoC(_Global):
    def pool(self, x):
        return Fn.spoc(x)


class GeM(_Global):
    def __init__(self, p: float = 3.0):
        super().__init__()
        self.p = float(p)

    def pool(self, x):
        return Fn.gem(x, self.p)

    def extra_repr(self) -> str:
        return f"p={self.p}"


class CroW(_Global):
    def pool(self, x):
        return Fn.crow(x)


class _Regional(nn.Module):
    regional = True

    def __init__(self, levels: int = 3):
        super().__init__()
        self.levels = int(levels)

    def regions(self, x: torch.Tensor) -> torch.Tensor:
        H, W = x.shape[-2:]
        return regions_tensor(int(W), int(H), self.levels)

    def extra_repr(self) -> str:
        return f"levels={self.levels}"


class RMAC(_Regional):
    """Eq. 7: max-pooled region vectors, unit weights."""

    def forward(self, x):
        return Fn.rmac(x, self.regions(x))


class DFCNN(_Regional):
    """Eqs. 9-13: channel-weighted, power-scaled region sums and region significance weights.

    Eq. 9's channel sensitivity N_l is kept for inspection: ``last_channel_sensitivity`` of the
    last batch ``[B, L]`` and the running mean over every map seen, ``mean_channel_sensitivity()``.
    """

    def __init__(self, levels: int = 3, alpha: float = 0.5):
        super().__init__(levels)
        self.alpha = float(alpha)
        self.last_channel_sensitivity: torch.Tensor | None = None
        self._sensitivity_sum: torch.Tensor | None = None
        self._sensitivity_count = 0

    def mean_channel_sensitivity(self) -> torch.Tensor | None:
        if self._sensitivity_sum is None:
            return None
        return self._sensitivity_sum / self._sensitivity_count

    def forward(self, x):
        regions = self.regions(x)
        gamma = Fn.channel_response(x)
        n = Fn.channel_sensitivity(gamma).detach()
        self.last_channel_sensitivity = n
        total = n.sum(dim=0).double().cpu()
        self._sensitivity_sum = total if self._sensitivity_sum is None else self._sensitivity_sum + total
        self._sensitivity_count += n.shape[0]
        lam = Fn.channel_sensitivity_weight(gamma)
        return Fn.dfcnn_region_vectors(x, regions, lam, self.alpha), Fn.region_significance(x, regions)

    def extra_repr(self) -> str:
        return f"levels={self.levels}, alpha={self.alpha}"


AGGREGATORS = ("gap", "mac", "spoc", "gem", "rmac", "crow", "dfcnn")


def build_aggregator(name: str, levels: int = 3, alpha: float = 0.5, gem_p: float = 3.0) -> nn.Module:
    """The aggregator module for a name of the Hydra group ``aggregator``."""
    table = {
        "gap": GAP,
        "mac": MAC,
        "spoc": SPoC,
        "gem": lambda: GeM(gem_p),
        "crow": CroW,
        "rmac": lambda: RMAC(levels),
        "dfcnn": lambda: DFCNN(levels, alpha),
    }
    if name not in table:
        raise ValueError(f"unknown aggregator {name!r}; choose one of {', '.join(AGGREGATORS)}")
    return table[name]()
