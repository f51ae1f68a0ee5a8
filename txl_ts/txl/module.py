"""Training `TXLNet` with Lightning: windows of segments unrolled with the memory carried along."""

from __future__ import annotations

import math
from contextlib import nullcontext

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..training import ForecastModule, masked_mse
from .covariates import arx_features, covariate_rows, horizon_rows, recent_level
from .grid import TokenGrid
from .memory import Memory, Stream, advance, forecasts_at, token_windows
from .net import TXLNet, normalise

# Forecast origins scored per token, drawn among its `stride` lags: scoring all of them (six
# times the targets per step at hourly half stride) changed the validation MSE by -0.04% on
# average (BENCHMARKS section 4, "lags-all"), within seed noise.
LAGS_PER_TOKEN = 4
WARMUP = 0.05  # share of the optimiser steps over which the learning rate rises linearly


class TXLModule(ForecastModule):
    """Trains `TXLNet` on windows of `n_segments` segments, carrying memory between them.

    Each window starts with `burn_in` segments run without gradients and left out of the loss,
    so the scored tokens see a warm memory, as at prediction. Every scored token is scored from
    `LAGS_PER_TOKEN` random origins `lag` rows after its end (lag < stride), each through the
    linear path over the rows before that origin plus the head's residual: exactly how a
    forecast is made from any row of a stream.
    """

    def __init__(self, net: TXLNet, grid: TokenGrid, *, segment_len: int, mem_len: int,
                 burn_in: int, stateful: bool, val_start: int | list[int], lr: float,
                 weight_decay: float, loss: str = "mse"):
        super().__init__(lr, weight_decay)
        self.net, self.grid = net, grid
        self.segment_len, self.mem_len = segment_len, mem_len
        self.burn_in, self.stateful, self.val_start = burn_in, stateful, val_start
        self.loss_name = loss
        self._carry: Memory | None = None  # stateful mode: memory from the previous batch

    def on_train_epoch_start(self) -> None:
        self._carry = None

    def on_train_batch_end(self, outputs, batch, batch_idx: int) -> None:
        self.lr_schedulers().step()  # manual optimisation: the per-step schedule is ours

    def loss(self, batch: torch.Tensor) -> torch.Tensor:
        return self._unroll(batch, backward=False)

    def backward_loss(self, batch: torch.Tensor) -> torch.Tensor:
        return self._unroll(batch, backward=True)

    def _error(self, forecast: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        mask = torch.isfinite(target)
        target = target.nan_to_num()
        if self.loss_name == "huber":
            err = F.huber_loss(forecast, target, reduction="none", delta=1.0)
        elif self.loss_name == "mae":
            err = (forecast - target).abs()
        else:
            err = (forecast - target).pow(2)
        return torch.where(mask, err, 0.0).sum()

    def _unroll(self, batch: torch.Tensor, backward: bool) -> torch.Tensor:
        """Loss over the window's scored segments, unrolled with the memory carried along.

        With `backward`, each segment is back-propagated as soon as it is computed (truncated
        BPTT as in Transformer-XL): the memory is detached, so the gradients equal those of one
        backward over all segments while only one segment's graph is alive at a time.
        """
        grid, net = self.grid, self.net
        # batch: (B, C + K, R) rows, R = grid.window_rows(W), the K covariates after the C
        # targets; column `context` ends the first token
        config = net.config
        c = config.n_channels
        b, _, n_cols = batch.shape
        rows = batch[:, :c].reshape(b * c, n_cols)
        # rows past the training data are NaN; they are inputs only of origins whose targets
        # are all NaN too, so zeros there never reach the loss (NaN would poison gradients)
        inputs = rows.nan_to_num(0.0)
        channel_ids = torch.arange(c, device=rows.device).repeat(b)
        ctx, stride, horizon = grid.context, grid.stride, grid.horizon
        n_tokens = (n_cols - ctx - grid.forecast_len) // stride + 1
        windows = token_windows(inputs, grid, config.token_rows, ctx, n_tokens)  # (BC,W,R)
        covariates = future = None
        if config.n_covariates:  # every channel of a sample sees its covariate rows
            x = batch[:, c:].nan_to_num(0.0).repeat_interleave(c, dim=0)  # (BC, K, R)
            covariates = covariate_rows(x, grid, ctx, n_tokens)  # (BC, W, K * P)
            future = x[:, config.n_past :].transpose(1, 2)  # (BC, R, Kf)
        k = min(LAGS_PER_TOKEN, stride)
        lags = torch.randint(0, stride, (b * c, n_tokens, k), device=rows.device)
        origins = ctx + stride * torch.arange(n_tokens, device=rows.device)[:, None] + lags
        looks = inputs.unfold(-1, ctx, 1)  # (BC, ., N): origin o reads looks[:, o - ctx]
        targets = rows.unfold(-1, horizon, 1)  # (BC, ., H): origin o forecasts targets[:, o]
        streams = torch.arange(b * c, device=rows.device)[:, None, None]
        steps = torch.arange(horizon, device=rows.device)

        carried = self.stateful and self._carry is not None
        memory = self._carry if carried else Memory.empty(net, b * c, rows.device)
        skip = min((0 if carried else self.burn_in) * self.segment_len, n_tokens - 1)
        # count per segment: a window-sized gather would make memory grow with the window
        n_scored = sum(
            int(torch.isfinite(targets[streams, origins[:, lo : lo + self.segment_len]]).sum())
            for lo in range(skip, n_tokens, self.segment_len)
        ) or 1
        total = rows.new_zeros(())
        for start in range(0, n_tokens, self.segment_len):
            stop = min(start + self.segment_len, n_tokens)
            warm_only = stop <= skip  # burn-in: no graph, no loss
            with torch.no_grad() if warm_only else nullcontext():
                heads, memory = advance(
                    net, memory, windows[:, start:stop], channel_ids, self.segment_len,
                    self.mem_len,
                    covariates=None if covariates is None else covariates[:, start:stop])
            if warm_only:
                continue
            lo = max(skip, start)
            head = heads[:, lo - start :, None, :].expand(-1, -1, k, -1)  # (BC, L, k, F)
            residual = head.gather(-1, (lags[:, lo:stop, :, None] + steps).contiguous())
            o = origins[:, lo:stop]
            look = looks[streams, o - ctx]  # (BC, L, k, ctx)
            effect = None
            if config.n_future:  # the horizon rows of each origin: (BC, L, k, H, Kf)
                x_future = future.unfold(1, horizon, 1)[streams, o].transpose(-1, -2)
                recent = future.unfold(1, config.norm_window, 1)[
                    streams, o - config.norm_window].transpose(-1, -2)  # (BC, L, k, norm, Kf)
                effect = net.future_effect(head, lags[:, lo:stop], x_future,
                                           recent_level(recent, config.norm_window))
            forecast = net.forecast(look, residual, effect)  # (BC, L, k, H)
            seg_loss = self._error(forecast, targets[streams, o]) / n_scored
            if backward:
                self.manual_backward(seg_loss)
                seg_loss = seg_loss.detach()
            total = total + seg_loss
        if self.stateful:
            self._carry = memory
        return total

    def validation_loss(self, batch: torch.Tensor) -> torch.Tensor:
        """MSE from every origin of the validation tail, as the benchmark scores a test split.

        batch: (1, C + K, T) the whole scaled series (training rows, then the tail), the K
        covariates after the C targets; for a long frame, (index, that series), and the
        series' own `val_start[index]`."""
        val_start = self.val_start
        if isinstance(batch, (list, tuple)):
            index, batch = batch
            val_start = self.val_start[int(index[0])]
        forecasts, targets = self._validation_forecasts(batch[0], val_start)
        return masked_mse(forecasts, targets)

    def validation_shard(self, batch: dict) -> tuple[torch.Tensor, torch.Tensor]:
        """Part j of n of one series' validation origins (`ValidationSeries.shard`): its MSE,
        weighted by its share of the series' scored targets. The weighted mean over every
        part of every series is then the mean over the series of each one's MSE, which is
        `validation_loss`'s one-process value up to rounding."""
        index = int(batch["index"][0])
        val_start = self.val_start if isinstance(self.val_start, int) else self.val_start[index]
        part, parts = int(batch["part"][0]), int(batch["parts"][0])
        forecasts, targets = self._validation_forecasts(batch["values"][0], val_start,
                                                        (part, parts))
        every = self._validation_targets(batch["values"][0], val_start)
        return (masked_mse(forecasts, targets),
                torch.isfinite(targets).sum() / torch.isfinite(every).sum())

    def _validation_origins(self, n_rows: int, val_start: int) -> np.ndarray:
        # full windows, as a test split is scored; a tail shorter than the horizon is scored
        # on the steps it has
        horizon = self.grid.horizon
        last = n_rows - horizon + 1 if n_rows - horizon + 1 > val_start else n_rows
        return self.grid.origins_after(val_start, last)

    def _validation_targets(self, values: torch.Tensor, val_start: int,
                            origins: np.ndarray | None = None) -> torch.Tensor:
        """(n origins, C, H) targets of `origins` (all validation origins by default)."""
        series = values[: self.net.config.n_channels]
        if origins is None:
            origins = self._validation_origins(series.shape[1], val_start)
        nan = series.new_full((series.shape[0], self.grid.horizon), float("nan"))
        targets = torch.cat([series, nan], 1).unfold(-1, self.grid.horizon, 1)[:, origins]
        return targets.transpose(0, 1)

    def _validation_forecasts(self, values: torch.Tensor, val_start: int,
                              part: tuple[int, int] | None = None
                              ) -> tuple[torch.Tensor, torch.Tensor]:
        """Forecasts and targets (n origins, C, H) of one series' validation origins, or of
        part j of n of them (contiguous, `np.array_split`)."""
        config = self.net.config
        series, x = values[: config.n_channels], values[config.n_channels :]
        stream = Stream(self.net, self.grid, self.segment_len, self.mem_len)
        heads, _ = stream.feed(stream.start(series.shape[0]), series.T.cpu().numpy(),
                               x.T.cpu().numpy())
        horizon = self.grid.horizon
        origins = self._validation_origins(series.shape[1], val_start)
        if part is not None:
            origins = np.array_split(origins, part[1])[part[0]]
            if not len(origins):  # more parts than origins: this one scores nothing
                empty = series.new_zeros(0, series.shape[0], horizon)
                return empty, empty
        future = None
        if config.n_future:  # rows past the end (steps never scored) read as the mean
            future = torch.cat([x[config.n_past :].T, x.new_zeros(horizon, config.n_future)])
        forecasts = forecasts_at(self.net, self.grid, heads, self.grid.pad(series), origins,
                                 future=future)
        return forecasts, self._validation_targets(values, val_start, origins)

    def _linear_path(self) -> list[nn.Parameter]:
        """The linear map and its ARX weights: ridge-started, never decayed."""
        future = self.net.future
        return [*self.net.linear.parameters(), *([] if future is None else [future.arx])]

    def configure_optimizers(self):
        """AdamW without weight decay on biases, norms, embeddings, u/v and the linear path
        (decay would pull it from the seasonal naive towards zero); linear warm-up of the
        learning rate over the first `WARMUP` of the steps, then cosine decay."""
        decay, no_decay = [], []
        linear = {id(p) for p in self._linear_path()}
        for module_name, module in self.net.named_modules():
            if module_name == "linear":
                continue
            for name, param in module.named_parameters(recurse=False):
                if id(param) in linear:
                    continue
                plain = isinstance(module, nn.Linear) and name == "weight"
                (decay if plain else no_decay).append(param)
        groups = [{"params": decay, "weight_decay": self.weight_decay},
                  {"params": no_decay, "weight_decay": 0.0},
                  {"params": self._linear_path(), "weight_decay": 0.0}]
        optimizer = torch.optim.AdamW(groups, lr=self.lr)
        total = max(1, int(self.trainer.estimated_stepping_batches)) if self._trainer else 1
        if not math.isfinite(total):
            total = 1000
        warm = max(1, int(WARMUP * total))
        schedule = torch.optim.lr_scheduler.SequentialLR(optimizer, [
            torch.optim.lr_scheduler.LinearLR(optimizer, start_factor=0.1, total_iters=warm),
            torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=max(1, total - warm),
                                                       eta_min=0.05 * self.lr),
        ], milestones=[warm])
        return {"optimizer": optimizer,
                "lr_scheduler": {"scheduler": schedule, "interval": "step"}}


# ridge strengths (times the sample count), plus "no fit" (the prior itself)
RIDGE_ALPHAS = (1e-6, 1e-5, 1e-4, 1e-3, 1e-2, 1e-1, 1.0, 10.0)
# repeat-last replaces the seasonal prior only when it validates this much lower: on hourly
# data it is at most 0.4% lower (within seed noise), on coarse data up to 41%
PRIOR_MARGIN = 0.01


@torch.no_grad()
def fit_linear_path(net: TXLNet, grid: TokenGrid, values: list[torch.Tensor],
                    val_start: list[int], chunk: int = 2048,
                    x: list[torch.Tensor] | None = None) -> dict[str, float | None]:
    """Warm-start the linear path by ridge regression towards a naive forecast.

    Solves min ||X W - Y||^2 + alpha n ||W - W_prior||^2 over every training origin whose
    horizon lies in the training rows and whose lookback is complete (X: the normalised
    lookback, Y: the normalised targets, all channels pooled), for two priors: the seasonal
    naive (the linear path's start) and repeat-last. For each prior it keeps the alpha with
    the lowest validation MSE, or the prior itself when no alpha beats it; repeat-last's
    choice replaces the seasonal one only when its validation MSE is more than
    `PRIOR_MARGIN` (1%) lower. The seasonal naive is kept when there is no validation tail.
    Returns the choice. values: per series (C, T) scaled rows, the validation tail from
    `val_start[i]` on; the origins of every series are pooled (a long frame's).

    Repeat-last is the better prior where a season back says little, as on quarterly US
    macro series, weekly CO2 or monthly sea temperature (validation 4% to 41% lower;
    docs/benchmarks.md section 7). On the hourly and half-hourly data of sections 4 and 6
    repeat-last validates at most 0.4% lower, so the seasonal one stays.

    Origins whose lookback reaches back before the first row read padding (copies of the
    first row), not data; fitted on, they teach the map that the rows a season or a week back
    say nothing. On 70 days of half-hourly load with a weekly pattern they made the ridge's
    test MSE 2.7 times larger (BENCHMARKS section 4). They are used only when the training
    rows have no complete lookback at all.

    With future covariates and their rows x (K, T) the map is a linear ARX map: step h also
    regresses on features of x_future[h] (`txl_ts.txl.covariates.arx_features`), with prior
    weight zero (`fit_arx_path`). Without x only the lags are fitted.
    """
    if net.future is not None and x is not None:
        return fit_arx_path(net, grid, values, x, val_start, chunk)
    cfg = net.config
    ctx, horizon = grid.context, grid.horizon
    n_in = cfg.lookback
    dtype = values[0].dtype
    gram = values[0].new_zeros(n_in + 1, n_in + 1)
    cross = values[0].new_zeros(n_in + 1, horizon)
    n = 0
    # the validation MSE of any map W, from sums over the validation origins: with
    # x~ = [x, 1] and r = (y - mu) / sigma, sum (mu + sigma x~ W - y)^2 =
    # tr(W' G W) - 2 tr(W' R) + sum (y - mu)^2, G = sum sigma^2 x~ x~', R = sum sigma^2 x~ r'.
    # Their size does not grow with the number of origins (a thousand series' validation
    # lookbacks held at once took gigabytes).
    val_gram = values[0].new_zeros(n_in + 1, n_in + 1).double()
    val_cross = values[0].new_zeros(n_in + 1, horizon).double()
    val_sq, val_count = 0.0, 0
    for series, start in zip(values, val_start):  # the origins of every series, pooled
        train_origins, val_origins = _origins(grid, n_in, start, series.shape[1])
        looks = grid.pad(series).unfold(-1, ctx, 1)  # origin o reads looks[:, o]
        targets = series.unfold(-1, horizon, 1)  # origin o forecasts targets[:, o]
        for lo in range(0, len(train_origins), chunk):
            o = torch.as_tensor(train_origins[lo : lo + chunk])
            x, mu, sigma = _normalised_lookback(looks[:, o].reshape(-1, ctx), cfg)
            y = (targets[:, o].reshape(-1, horizon) - mu) / sigma
            x = torch.cat([x, x.new_ones(len(x), 1)], 1)  # bias column
            gram += x.T @ x
            cross += x.T @ y
            n += len(x)
        for lo in range(0, len(val_origins), chunk):
            o = torch.as_tensor(val_origins[lo : lo + chunk])
            x, mu, sigma = _normalised_lookback(looks[:, o].reshape(-1, ctx), cfg)
            x = torch.cat([x, x.new_ones(len(x), 1)], 1).double()
            gap = (targets[:, o].reshape(-1, horizon) - mu).double()  # y - mu
            weighted = x * sigma.double()  # sigma x~: then sigma^2 x~ x~' and sigma x~ (y - mu)'
            val_gram += weighted.T @ weighted
            val_cross += weighted.T @ gap
            val_sq += float(gap.pow(2).sum())
            val_count += gap.numel()
    if n == 0 or val_count == 0:
        return {"alpha": None}
    seasonal = torch.cat([net.linear.weight.T, net.linear.bias[None]], 0)  # (N + 1, H)
    last_value = torch.zeros_like(seasonal)
    last_value[n_in - 1] = 1.0  # every step repeats the newest row

    def val_mse(w: torch.Tensor) -> float:
        w = w.double()
        total = (w * (val_gram @ w)).sum() - 2 * (w * val_cross).sum() + val_sq
        return float(total) / val_count

    eye = torch.eye(n_in + 1, dtype=dtype)

    def best_towards(start: torch.Tensor) -> tuple[float | None, torch.Tensor, float]:
        best_alpha, best_w, best = None, start, val_mse(start)
        for alpha in RIDGE_ALPHAS:
            lam = alpha * n
            w = torch.linalg.solve(gram.double() + lam * eye.double(),
                                   (cross + lam * start).double()).to(dtype)
            score = val_mse(w)
            if score < best:
                best_alpha, best_w, best = alpha, w, score
        return best_alpha, best_w, best

    choice = ("seasonal", *best_towards(seasonal))
    alt = ("last", *best_towards(last_value))
    by_prior = {"seasonal": choice[3], "last": alt[3]}
    if alt[3] < (1.0 - PRIOR_MARGIN) * choice[3]:
        choice = alt
    prior, alpha, w, score = choice
    net.linear.weight.copy_(w[:-1].T)
    net.linear.bias.copy_(w[-1])
    return {"alpha": alpha, "val_mse": score, "prior": prior, "val_mse_by_prior": by_prior}


def _normalised_lookback(rows: torch.Tensor, cfg) -> tuple[torch.Tensor, ...]:
    """The linear path's input as `TXLNet.forecast` computes it, with its mean and std."""
    _, mu, sigma = normalise(rows, cfg.norm_window, cfg.scale)
    return (rows[..., -cfg.lookback :] - mu) / sigma, mu, sigma


def _origins(grid: TokenGrid, lookback: int, val_start: int, n_rows: int
             ) -> tuple[np.ndarray, np.ndarray]:
    """The training and validation origins of `fit_linear_path` (see there)."""
    horizon = grid.horizon
    train = np.arange(max(grid.patch_len, lookback), val_start - horizon + 1)
    if len(train) == 0:  # a short series: padded lookbacks are all there is
        train = np.arange(grid.patch_len, val_start - horizon + 1)
    return train, np.arange(max(val_start, grid.patch_len), n_rows - horizon + 1)


@torch.no_grad()
def fit_arx_path(net: TXLNet, grid: TokenGrid, values: list[torch.Tensor],
                 x: list[torch.Tensor], val_start: list[int], chunk: int = 2048
                 ) -> dict[str, float | None]:
    """`fit_linear_path` for a linear ARX map: forecast step h is

        mu + sigma * (lags . w_h + b_h) + phi(x_future[h]) . a_h

    (the covariate term outside the normalisation, as `TXLNet.forecast` adds it). Ridge
    towards (the naive prior, a = 0) in closed form, each step h on its own regressors
    [sigma * lags, sigma, phi_h]: the lag block of the normal equations is shared by every
    step, so one solve per alpha covers it, and each step's covariate block is a small Schur
    complement. values: per series (C, T) targets; x: their (K, T) covariates; returns the
    choice."""
    cfg = net.config
    ctx, horizon, n_in = grid.context, grid.horizon, cfg.lookback

    def regressors(series: torch.Tensor, x_rows: torch.Tensor):
        """For one series: a function of origins o giving rows (C n) of the lag block
        (C n, N + 1), covariate features (C n, H, 2 Q), targets minus mu (C n, H)."""
        looks = grid.pad(series).unfold(-1, ctx, 1)  # origin o reads looks[:, o]
        targets = series.unfold(-1, horizon, 1)  # origin o forecasts targets[:, o]
        future = x_rows[cfg.n_past :].T  # (T, Kf)
        recent = grid.pad(x_rows[cfg.n_past :]).unfold(-1, cfg.norm_window, 1)  # (Kf, ., n)

        def at(o: np.ndarray) -> tuple[torch.Tensor, ...]:
            o = torch.as_tensor(o)
            lags, mu, sigma = _normalised_lookback(looks[:, o].reshape(-1, ctx), cfg)
            lags = sigma * torch.cat([lags, lags.new_ones(len(lags), 1)], 1)
            level = recent_level(recent[:, o + ctx - cfg.norm_window].permute(1, 2, 0),
                                 cfg.norm_window)  # (n, Q)
            phi = arx_features(horizon_rows(future, o, horizon), level)  # (n, H, 2 Q)
            phi = phi.repeat(series.shape[0], 1, 1)  # every channel's
            return lags, phi, targets[:, o].reshape(-1, horizon) - mu

        return at

    n_z = net.future.arx.shape[1]  # 2 Q
    gram = values[0].new_zeros(n_in + 1, n_in + 1).double()  # L'L
    cross = values[0].new_zeros(n_in + 1, horizon).double()  # L'Y
    mixed = values[0].new_zeros(horizon, n_in + 1, n_z).double()  # L'Z_h
    z_gram = values[0].new_zeros(horizon, n_z, n_z).double()  # Z_h'Z_h
    z_cross = values[0].new_zeros(horizon, n_z).double()  # Z_h'y_h
    n = 0
    validation = []
    for series, x_rows, start in zip(values, x, val_start):  # every series' origins, pooled
        train_origins, val_origins = _origins(grid, n_in, start, series.shape[1])
        at = regressors(series, x_rows)
        for lo in range(0, len(train_origins), chunk):
            lags, phi, y = (t.double() for t in at(train_origins[lo : lo + chunk]))
            gram += lags.T @ lags
            cross += lags.T @ y
            mixed += torch.einsum("ni,nhk->hik", lags, phi)
            z_gram += torch.einsum("nhk,nhj->hkj", phi, phi)
            z_cross += torch.einsum("nhk,nh->hk", phi, y)
            n += len(lags)
        if len(val_origins):
            validation.append(tuple(t.double() for t in at(val_origins)))
    if n == 0 or not validation:
        return {"alpha": None}
    lags_val, phi_val, y_val = (torch.cat(t) for t in zip(*validation))

    def val_mse(w: torch.Tensor, a: torch.Tensor) -> float:
        forecast = lags_val @ w + torch.einsum("nhk,hk->nh", phi_val, a)
        return float((forecast - y_val).pow(2).mean())

    eye, z_eye = torch.eye(n_in + 1).double(), torch.eye(n_z).double()
    mixed_flat = mixed.permute(1, 0, 2).reshape(n_in + 1, horizon * n_z)

    def solve(alpha: float, prior: torch.Tensor):
        """The solutions for lag strength `alpha` and every covariate strength, lazily."""
        # [[G + lam I, B_h], [B_h', D_h + mu I]] [w_h; a_h] = [c_h + lam prior_h; d_h]
        lam = alpha * n
        both = torch.linalg.solve(gram + lam * eye,
                                  torch.cat([mixed_flat, cross + lam * prior], 1))
        u = both[:, : horizon * n_z].reshape(n_in + 1, horizon, n_z).permute(1, 0, 2)
        v = both[:, horizon * n_z :]  # (N + 1, H)
        reduced = z_gram - mixed.transpose(1, 2) @ u  # (H, 2Q, 2Q) Schur complement
        rhs = z_cross - torch.einsum("hik,ih->hk", mixed, v)
        for alpha_z in RIDGE_ALPHAS:
            a = torch.linalg.solve(reduced + alpha_z * n * z_eye, rhs)  # (H, 2 Q)
            yield alpha_z, (v - torch.einsum("hik,hk->ih", u, a), a)

    def best_towards(start: torch.Tensor) -> tuple[float | None, tuple, float]:
        # the lags shrink towards the naive prior, the covariate weights towards zero: each
        # with a strength of its own (a strong prior on the lags must not silence a
        # covariate that explains the target)
        zero = start.new_zeros(horizon, n_z)
        best_alpha, best_w, best = None, (start, zero), val_mse(start, zero)
        for alpha in RIDGE_ALPHAS:
            for alpha_z, w in solve(alpha, start):
                score = val_mse(*w)
                if score < best:
                    best_alpha, best_w, best = (alpha, alpha_z), w, score
        return best_alpha, best_w, best

    seasonal = torch.cat([net.linear.weight.T, net.linear.bias[None]], 0).double()
    last_value = torch.zeros_like(seasonal)
    last_value[n_in - 1] = 1.0
    choice = ("seasonal", *best_towards(seasonal))
    alt = ("last", *best_towards(last_value))
    by_prior = {"seasonal": choice[3], "last": alt[3]}
    if alt[3] < (1.0 - PRIOR_MARGIN) * choice[3]:
        choice = alt
    prior, alphas, (w, a), score = choice
    net.linear.weight.copy_(w[:-1].T)
    net.linear.bias.copy_(w[-1])
    net.future.arx.copy_(a)
    alpha, alpha_z = alphas or (None, None)
    return {"alpha": alpha, "alpha_covariates": alpha_z, "val_mse": score, "prior": prior,
            "val_mse_by_prior": by_prior}
