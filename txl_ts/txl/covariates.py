"""Covariates in the Transformer-XL network: in the tokens, and over the horizon.

A fitted model reads one scaled covariate matrix x (T, K): the `n_past` past covariates first
(known only up to the forecast origin), then the `n_future` future-known ones. They enter in
three places, all absent when K = 0 (the network is then exactly the one without covariates):

- tokens: each token's K covariate rows over its patch are embedded linearly and added to the
  token embedding (`covariate_rows`, `TXLNet.covariates`). Every channel (an independent
  stream of the same series) sees the same covariate rows;
- the linear path becomes a linear ARX map: step h of a forecast adds `arx[h] . f_h`, with
  the features f_h = [phi(x_future[h]) - m, m] (`arx_features`): phi = [x, x^2] of the
  future-known columns, m the mean of phi over the `norm_window` rows before the origin.
  The squares let a linear map follow a U-shaped response, such as electricity demand in
  temperature; m lets the map take out of the target's recent mean (the level the forecast
  starts from) the part the covariates explain (without m, the ridge start alone scored
  0.060 instead of 0.053 on the demand data; on a target that is a covariate's multiple,
  10x worse).
  Ridge regression warm-starts it with the lags (`txl_ts.txl.module.fit_arx_path`);
- the head: a per-step encoder (as in TiDE) adds a nonlinear correction
  `out(GELU(context + inp(f_h) + step[lag + h]))`, where `context` (E values) is part of
  the newest token's output and `step` embeds the distance from that token's end.

Both horizon terms are added outside the per-window normalisation (RevIN), in the globally
scaled units: a temperature's effect on demand is in absolute units, whatever the recent
level (with the default `norm_scale=False` the normalisation only centres and the two agree).

Shapes: K covariates (Kp past + Kf future), Q = 2 Kf features phi,
P = patch_len, H = horizon, F = forecast_len, E = covariate_width.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .config import TXLConfig
from .grid import TokenGrid


def covariate_rows(x: torch.Tensor, grid: TokenGrid, first_end: int,
                   n_tokens: int) -> torch.Tensor:
    """(..., K, T) covariate rows -> (..., n_tokens, K * P): each token's patch of covariate
    rows, for tokens ending at column `first_end`, `first_end + stride`, ..."""
    p = grid.patch_len
    if n_tokens <= 0:
        return x.new_zeros(*x.shape[:-2], 0, x.shape[-2] * p)
    stop = first_end + (n_tokens - 1) * grid.stride
    patches = x[..., first_end - p : stop].unfold(-1, p, grid.stride)  # (..., K, N, P)
    return patches.transpose(-3, -2).flatten(-2)  # (..., N, K * P)


def horizon_rows(future: torch.Tensor, origins: torch.Tensor, horizon: int) -> torch.Tensor:
    """(..., T, Kf) future-known rows -> (..., n, H, Kf): the horizon rows of each origin
    (origin o forecasts rows o .. o + H - 1). `origins` (n,) index the T axis."""
    windows = future.unfold(-2, horizon, 1)  # (..., T - H + 1, Kf, H)
    return windows[..., origins, :, :].transpose(-1, -2)


def phi(x: torch.Tensor) -> torch.Tensor:
    """[x, x^2] (..., Q), Q = 2 Kf, of future-known covariate rows (..., Kf).

    On the electricity demand of experiments/txl_covariates.py (stride-24 test windows) the
    ridge start alone scored 0.088 with [x] and 0.053 with [x, x^2] (the U shape in
    temperature). Adding the products x_i x_j (temperature times the time of day) lowered
    it to 0.049, but the trained model to 0.065 from 0.056 (8 epochs, seed 0): training
    then overfits the validation months, so the products are left out."""
    return torch.cat([x, x * x], dim=-1)


def n_features(n_future: int) -> int:
    """Features per horizon step (`arx_features`) of `n_future` future-known covariates."""
    return 2 * phi(torch.zeros(1, n_future)).shape[-1]


def recent_level(rows: torch.Tensor, norm_window: int) -> torch.Tensor:
    """m (..., Q): the mean of phi over the last `norm_window` of the rows (..., T, Kf)
    before an origin (the window the target's level comes from)."""
    return phi(rows[..., -norm_window:, :]).mean(-2)


def arx_features(x_future: torch.Tensor, level: torch.Tensor) -> torch.Tensor:
    """f (..., H, 2 Q) = [phi(x_future[h]) - m, m] from the horizon rows (..., H, Kf) and
    the recent level m (..., Q): the regressors of the ARX term and the encoder's input."""
    level = level[..., None, :].expand(*x_future.shape[:-1], level.shape[-1])
    return torch.cat([phi(x_future) - level, level], dim=-1)


class FutureEffect(nn.Module):
    """What the future-known covariates add to a forecast (..., H): the linear ARX term and,
    with E > 0, the per-step encoder's correction. Both start at zero."""

    def __init__(self, config: TXLConfig):
        super().__init__()
        c = config
        n = n_features(c.n_future)
        self.arx = nn.Parameter(torch.zeros(c.horizon, n))  # (H, 2 Q)
        self.width = c.context_width
        if self.width:
            self.inp = nn.Linear(n, self.width)
            self.step = nn.Embedding(c.forecast_len, self.width)  # distance from the token
            self.drop = nn.Dropout(c.covariate_dropout)
            self.out = nn.Linear(self.width, 1)

    def zero_correction(self) -> None:
        """An untrained encoder adds nothing (called after the weights' random init)."""
        if self.width:
            nn.init.zeros_(self.out.weight)

    def forward(self, context: torch.Tensor, lag: torch.Tensor,
                features: torch.Tensor) -> torch.Tensor:
        # context: (..., E) of the newest token; lag: (...) rows from its end to the origin;
        # features: (..., H, 2 Q) (`arx_features`)
        effect = (features * self.arx).sum(-1)  # (..., H)
        if not self.width:
            return effect
        steps = lag[..., None] + torch.arange(features.shape[-2], device=lag.device)
        hidden = F.gelu(context[..., None, :] + self.inp(features) + self.step(steps))
        return effect + self.out(self.drop(hidden)).squeeze(-1)  # (..., H)
