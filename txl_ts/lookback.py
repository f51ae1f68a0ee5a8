"""Machinery of the direct multi-horizon models that read the last `lookback` rows (LSTM,
DLinear): training windows, batched rolling forecasts and persistence, written once.

A subclass provides the network (`_build_net`), its LightningModule (`_build_module`) and
`_forward(windows, covariates)`; everything between the scaled series and the scaled forecasts
lives here.

Covariates (`txl_ts.frames.roles`): a forecast from origin t reads the (lookback, K) covariate
rows of its input window (past covariates and the history of the future-known ones) and the
(horizon, F) future-known covariates of rows t + 1 .. t + horizon, F = K - n_past; never the
past covariates after the origin. Without covariates (K = 0) the networks receive none and
compute exactly what they did before covariates existed.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.utils.data import ConcatDataset, DataLoader, Dataset

from .base import BaseForecaster, Capabilities
from .frames.validate import Series
from .seasonality import auto_lookback, season_from_freq
from .training import ForecastModule, Windows, fit_module, min_fit_rows, resolve_device

INFERENCE_BATCH = 4096  # channel sequences per forward pass in rolling forecasts

# what a network reads beside the target windows: the (N, lookback, K) covariate rows of the
# input windows and the (N, horizon, F) future-known covariates of their horizons
Covariates = tuple[torch.Tensor, torch.Tensor]


class CovariateWindows(Dataset):
    """Training windows with their covariates: item i is (targets (C, lookback + horizon) as
    `windows` gives them, the (lookback, K) covariate rows of the input, the (horizon, F)
    future-known covariates of the horizon rows).

    `x` (T, K) is aligned with the series `windows` reads. The past-covariate columns (the
    first `n_past`) are cut from the horizon rows, so training reads no more than a forecast
    can. Rows beyond the data read as 0, the covariates' training mean: their targets are NaN
    (masked in the loss), so these stand-ins only keep the inputs finite.
    """

    def __init__(self, windows: Windows, x: torch.Tensor, n_past: int, lookback: int,
                 horizon: int):
        self.windows, self.n_past, self.lookback = windows, n_past, lookback
        # pad once, so that every window's rows are a plain slice
        self.x = torch.cat([x, x.new_zeros((lookback + horizon, x.shape[1]))])

    def __len__(self) -> int:
        return len(self.windows)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        start = i * self.windows.step
        rows = self.x[start : start + self.windows.length]  # (lookback + horizon, K)
        return (self.windows[i], rows[: self.lookback],
                rows[self.lookback :, self.n_past :])


def split_batch(batch: torch.Tensor | list[torch.Tensor]
                ) -> tuple[torch.Tensor, Covariates | None]:
    """A training batch as (targets (B, C, lookback + horizon), covariates or None)."""
    if isinstance(batch, torch.Tensor):
        return batch, None
    targets, x_window, x_future = batch
    return targets, (x_window, x_future)


def scored_targets(batch: torch.Tensor | list[torch.Tensor], lookback: int) -> torch.Tensor:
    """The finite targets of a batch of windows: the weight of its validation loss when the
    validation windows are shared out between processes (`ForecastModule.validation_shard`),
    so that the reduced loss is the MSE over every validation target."""
    targets, _ = split_batch(batch)
    return torch.isfinite(targets[:, :, lookback:]).sum()


class LookbackForecaster(BaseForecaster):
    """Base of models that map the last `lookback` scaled rows to `horizon` steps at once.

    Training windows start every `window_step` rows; a validation tail (`val_size`, or
    `validation_data`) drives early stopping on forecasts whose origins lie in it.
    `lookback="auto"` is 14 seasons of the data's frequency (`txl_ts.seasonality.auto_lookback`:
    336 rows hourly, 98 daily, 56 quarterly), the rule TXL's linear path follows, but at most
    as many whole seasons as leave half of the training rows as forecast origins (as
    `txl_ts.tuning` limits the lookbacks it draws): a short weekly series reads fewer years.
    Fitted: `lookback_`, `net_`, `last_window_` (the newest `lookback_` scaled rows: the C
    targets, then the K covariates) and `fit_summary_`.
    """

    capabilities = Capabilities(update=True, fast_rolling=True, global_model=True)

    lookback: int | str
    horizon: int
    window_step: int
    batch_size: int
    max_epochs: int
    patience: int
    accelerator: str
    random_state: int | None
    trainer_kwargs: dict[str, Any] | None
    verbose: bool | None
    val_batch_size: int | None = None  # validation needs no gradients: may batch wider

    # ---- hooks ----------------------------------------------------------------------------
    def _build_net(self, n_channels: int) -> nn.Module:
        raise NotImplementedError

    def _build_module(self, net: nn.Module) -> ForecastModule:
        raise NotImplementedError

    def _forward(self, windows: torch.Tensor,
                 covariates: Covariates | None = None) -> torch.Tensor:
        """(N, C, lookback) scaled windows -> (N, C, horizon), on the network's device;
        `covariates` (None when K = 0) are shared by the C channels of a window."""
        raise NotImplementedError

    def _covariate_dims(self) -> tuple[int, int]:
        """(K, F): the covariate columns of the input windows, the future-known ones of the
        horizon."""
        roles = self._roles()
        return roles.n_covariates, roles.n_covariates - roles.n_past

    def _resolve(self, n_train: int) -> None:
        """Turn frequency-aware parameters into fitted `*_` attributes (`freq_` is known;
        `n_train` training rows precede the validation tail); a subclass with its own calls
        this first."""
        if self.lookback != "auto":
            self.lookback_ = int(self.lookback)
            return
        try:
            season = season_from_freq(self.freq_)
        except ValueError:
            season = 1  # no known cycle: 14 of the smallest automatic patch
        self.lookback_ = auto_lookback(season, room=(n_train - self.horizon) // 2)


    def _min_fit_length(self) -> tuple[int, str]:
        # with lookback="auto" the lookback is known only once the frequency is: _fit_scaled
        # checks again with it
        lookback = 1 if self.lookback == "auto" else int(self.lookback)
        return min_fit_rows(lookback + self.horizon, "lookback + horizon", self.val_size)

    def _min_history_length(self) -> tuple[int, str]:
        return self.lookback_, f"lookback={self.lookback_} rows"

    def _fit_scaled(self, train: np.ndarray, valid: np.ndarray | None,
                    x_train: np.ndarray, x_valid: np.ndarray | None) -> None:
        (part,) = self._fit_shared([(train, valid, x_train, x_valid)], ["df"])
        self._attach(*part)

    def _fit_shared(self, raws: list[tuple], names: list[str]) -> list[tuple]:
        """Train one network over the series `raws`, each (train, valid, x_train, x_valid)
        scaled as in `_fit_scaled`; returns each series' (full, x_full, val_start). Training
        windows of every series are shuffled together, so each series contributes in
        proportion to its length; the lookback is resolved for the shortest series."""
        started = time.perf_counter()
        parts = []
        for train, valid, x_train, x_valid in raws:
            if valid is None:
                full, val_start = train, len(train) - self._n_val(len(train))
                x_full = x_train
            else:
                full, val_start = np.concatenate([train, valid]), len(train)
                x_full = np.concatenate([x_train, x_valid])
            parts.append((full, x_full, val_start))
        self._resolve(min(start for _, _, start in parts))
        need, why = min_fit_rows(self.lookback_ + self.horizon, "lookback + horizon",
                                 self.val_size)
        for (train, *_), name in zip(raws, names):
            if len(train) < need:
                raise ValueError(f"{name} has {len(train)} rows; at least {need} are needed "
                                 f"({why}; lookback={self.lookback_} for frequency "
                                 f"{self.freq_.freqstr})")
        if self.random_state is not None:
            torch.manual_seed(self.random_state)
        self.net_ = self._build_net(parts[0][0].shape[1])
        length = self.lookback_ + self.horizon
        train_sets, val_sets = [], []
        for full, x_full, val_start in parts:
            values = torch.as_tensor(full.T, dtype=torch.float32)  # (C, T)
            x_values = torch.as_tensor(x_full, dtype=torch.float32)  # (T, K)
            # training windows: inputs inside the training rows and one target there at least
            n_train = (val_start - self.lookback_ - 1) // self.window_step + 1
            train_sets.append(self._windows(Windows(values, length, self.window_step,
                                                    n_train, end=val_start), x_values))
            if val_start < len(full):
                # validation windows: forecast origins at rows val_start - 1 .. len(full) - 2
                first = val_start - self.lookback_
                n_val = (len(full) - 1 - val_start) // self.window_step + 1
                val_sets.append(self._windows(
                    Windows(values[:, first:], length, self.window_step, n_val,
                            end=len(full) - first), x_values[first:]))
        generator = torch.Generator().manual_seed(self.random_state or 0)
        train_loader = DataLoader(train_sets[0] if len(train_sets) == 1
                                  else ConcatDataset(train_sets),
                                  batch_size=self.batch_size, shuffle=True, generator=generator)
        val_loader = None
        if val_sets:
            val_loader = DataLoader(val_sets[0] if len(val_sets) == 1
                                    else ConcatDataset(val_sets),
                                    batch_size=self.val_batch_size or self.batch_size)
        summary = fit_module(
            self._build_module(self.net_), train_loader, val_loader,
            max_epochs=self.max_epochs, patience=self.patience, accelerator=self.accelerator,
            random_state=self.random_state, trainer_kwargs=self.trainer_kwargs,
            verbose=self.verbose,
        )
        self.net_.eval().to(resolve_device(self.accelerator))
        n_train = sum(start for _, _, start in parts)
        self.fit_summary_ = {**summary, "fit_seconds": time.perf_counter() - started,
                             "n_train_rows": int(n_train),
                             "n_val_rows": int(sum(len(f) for f, _, _ in parts) - n_train)}
        if len(parts) > 1:
            self.fit_summary_["n_series"] = len(parts)
        return parts

    def _attach(self, full: np.ndarray, x_full: np.ndarray, val_start: int) -> None:
        """(lookback, C + K) scaled: the rows of one series the next forecast reads."""
        self.last_window_ = np.concatenate([full[-self.lookback_:], x_full[-self.lookback_:]],
                                           axis=1)

    def _windows(self, windows: Windows, x: torch.Tensor) -> Dataset:
        """`windows` as they are without covariates, else with the rows of `x` (T, K)."""
        if not x.shape[1]:
            return windows
        return CovariateWindows(windows, x, self._roles().n_past, self.lookback_, self.horizon)

    @torch.no_grad()
    def _forecast_windows(self, windows: np.ndarray, x_windows: np.ndarray,
                          x_future: np.ndarray, rows: np.ndarray) -> np.ndarray:
        """Scaled forecasts (n, horizon, C) of the windows `rows` (n,) picks, in batches.

        `windows` (N, C, lookback) holds the scaled targets, `x_windows` (N, K, lookback)
        their covariates and `x_future` (N, F, horizon) the future-known covariates of their
        horizons (sliding-window views: only the picked ones are ever copied).
        """
        c = windows.shape[1]
        k = x_windows.shape[1]
        device = next(self.net_.parameters()).device
        step = max(1, INFERENCE_BATCH // c)  # windows per batch
        out = np.empty((len(rows), self.horizon, c))

        def tensor(a: np.ndarray) -> torch.Tensor:
            return torch.as_tensor(np.ascontiguousarray(a), dtype=torch.float32, device=device)

        for i in range(0, len(rows), step):
            pick = rows[i : i + step]
            covariates = None
            if k:  # (n, lookback, K) and (n, horizon, F): rows by time, as in training
                covariates = (tensor(x_windows[pick].transpose(0, 2, 1)),
                              tensor(x_future[pick].transpose(0, 2, 1)))
                forecast = self._forward(tensor(windows[pick]), covariates)
            else:
                forecast = self._forward(tensor(windows[pick]))
            out[i : i + step] = forecast.float().cpu().transpose(1, 2).numpy()
        # a column constant in the training data taught the network nothing, and its unit
        # scale passes the network's output through in raw units (a constant 0.007 came back
        # as 0.007 +- 0.5): repeat its last value
        flat = self._constant_columns()
        if flat.any():
            out[:, :, flat] = windows[rows, :, -1][:, flat][:, None, :]
        return out

    def _forecast_scaled(self, history: np.ndarray | None,
                         x_history: np.ndarray | None = None,
                         x_future: np.ndarray | None = None) -> np.ndarray:
        c, (k, f) = len(self.columns_), self._covariate_dims()
        if history is None:
            window = self.last_window_  # (lookback, C + K)
        else:
            if x_history is None:  # callers without covariates
                x_history = np.empty((len(history), 0))
            window = np.concatenate([history[-self.lookback_:],
                                     x_history[-self.lookback_:]], axis=1)
        if x_future is None:
            x_future = np.empty((self.horizon, 0))
        future = x_future[:, k - f :]  # the future-known columns: never the past ones
        return self._forecast_windows(window[:, :c].T[None], window[:, c:].T[None],
                                      future.T[None], np.zeros(1, dtype=int))[0]

    def _advance(self, scaled: np.ndarray, series: Series, x: np.ndarray) -> dict[str, Any]:
        """The forecast reads only the last `lookback_` rows (targets and covariates): keep
        those."""
        rows = np.concatenate([scaled, x], axis=1)[-self.lookback_:]
        window = np.concatenate([self.last_window_, rows])[-self.lookback_:]
        return {"last_window_": window}

    def _rolling_scaled(self, scaled: np.ndarray, series: Series,
                        cutoffs: np.ndarray, x: np.ndarray) -> np.ndarray:
        """Forecasts from every cutoff, batched: the lookback windows of all cutoffs go through
        the network in large batches without gradients; each result equals
        `predict(history=df[:c + 1], future=df[c + 1:])` up to float32 rounding."""
        lookback, horizon = self.lookback_, self.horizon
        k, f = self._covariate_dims()
        # (T - lookback + 1, C, lookback) views; window i holds rows i .. i + lookback - 1
        views = np.lib.stride_tricks.sliding_window_view(scaled, lookback, axis=0)
        # the covariates of the same windows (x has H rows more: never read here), and the
        # future-known ones of their horizons: window i's horizon is rows i + lookback ..
        x_views = np.lib.stride_tricks.sliding_window_view(x[: len(scaled)], lookback, axis=0)
        futures = np.lib.stride_tricks.sliding_window_view(x[lookback:, k - f :], horizon,
                                                           axis=0)
        return self._forecast_windows(views, x_views, futures, cutoffs - lookback + 1)

    # ---- persistence ----------------------------------------------------------------------
    def _tensors_to_save(self) -> dict[str, torch.Tensor]:
        tensors = {f"net.{k}": v for k, v in self.net_.state_dict().items()}
        tensors["last_window"] = torch.from_numpy(self.last_window_)
        return tensors

    def _extra_state(self) -> dict[str, Any]:
        return {"fit_summary": self.fit_summary_, "lookback": self.lookback_}

    def _restore_lookback(self, extra: dict[str, Any]) -> None:
        """`lookback_` from a saved model: its own field, or (files written before
        lookback="auto") the constructor's integer."""
        lookback = extra.get("lookback", self.lookback)
        if not isinstance(lookback, int) or isinstance(lookback, bool) or lookback < 1:
            raise ValueError(f"field 'lookback' {lookback!r} must be a positive integer")
        self.lookback_ = lookback

    def _restore(self, tensors: dict[str, torch.Tensor], extra: dict[str, Any]) -> None:
        self._restore_lookback(extra)
        self.net_ = self._build_net(len(self.columns_))
        self.net_.load_state_dict({k[4:]: v for k, v in tensors.items() if k.startswith("net.")})
        self.net_.eval().to(resolve_device(self.accelerator))
        window = tensors["last_window"]
        c, k = len(self.columns_), self._covariate_dims()[0]
        if tuple(window.shape) != (self.lookback_, c + k):
            raise ValueError(f"tensor 'last_window' has shape {tuple(window.shape)}, expected "
                             f"(lookback={self.lookback_}, {c} columns + {k} covariates)")
        self.last_window_ = window.double().numpy().copy()
        self.fit_summary_ = extra["fit_summary"]
