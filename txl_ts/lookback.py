"""Machinery of the direct multi-horizon models that read the last `lookback` rows (LSTM,
DLinear): training windows, batched rolling forecasts and persistence, written once.

A subclass provides the network (`_build_net`), its LightningModule (`_build_module`) and
`_forward(windows)`; everything between the scaled series and the scaled forecasts lives here.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader

from .base import BaseForecaster, Capabilities
from .frames.validate import Series
from .seasonality import auto_lookback, season_from_freq
from .training import ForecastModule, Windows, fit_module, min_fit_rows, resolve_device

INFERENCE_BATCH = 4096  # channel sequences per forward pass in rolling forecasts


class LookbackForecaster(BaseForecaster):
    """Base of models that map the last `lookback` scaled rows to `horizon` steps at once.

    Training windows start every `window_step` rows; a validation tail (`val_size`, or
    `validation_data`) drives early stopping on forecasts whose origins lie in it.
    `lookback="auto"` is 14 seasons of the data's frequency (`txl_ts.seasonality.auto_lookback`:
    336 rows hourly, 98 daily, 56 quarterly), the rule TXL's linear path follows, but at most
    as many whole seasons as leave half of the training rows as forecast origins (as
    `txl_ts.tuning` limits the lookbacks it draws): a short weekly series reads fewer years.
    Fitted: `lookback_`, `net_`, `last_window_` (the newest `lookback_` scaled rows) and
    `fit_summary_`.
    """

    capabilities = Capabilities(update=True, fast_rolling=True)

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

    def _forward(self, windows: torch.Tensor) -> torch.Tensor:
        """(N, C, lookback) scaled windows -> (N, C, horizon), on the network's device."""
        raise NotImplementedError

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
        started = time.perf_counter()
        if valid is None:
            full, val_start = train, len(train) - self._n_val(len(train))
        else:
            full, val_start = np.concatenate([train, valid]), len(train)
        self._resolve(val_start)
        need, why = min_fit_rows(self.lookback_ + self.horizon, "lookback + horizon",
                                 self.val_size)
        if len(train) < need:
            raise ValueError(f"df has {len(train)} rows; at least {need} are needed ({why}; "
                             f"lookback={self.lookback_} for frequency {self.freq_.freqstr})")
        if self.random_state is not None:
            torch.manual_seed(self.random_state)
        self.net_ = self._build_net(full.shape[1])
        values = torch.as_tensor(full.T, dtype=torch.float32)  # (C, T)
        length = self.lookback_ + self.horizon
        # training windows: inputs inside the training rows and at least one target there
        n_train = (val_start - self.lookback_ - 1) // self.window_step + 1
        train_data = Windows(values, length, self.window_step, n_train, end=val_start)
        generator = torch.Generator().manual_seed(self.random_state or 0)
        train_loader = DataLoader(train_data, batch_size=self.batch_size, shuffle=True,
                                  generator=generator)
        val_loader = None
        if val_start < len(full):
            # validation windows: forecast origins at rows val_start - 1 .. len(full) - 2
            first = val_start - self.lookback_
            n_val = (len(full) - 1 - val_start) // self.window_step + 1
            val_data = Windows(values[:, first:], length, self.window_step, n_val,
                               end=len(full) - first)
            val_loader = DataLoader(val_data, batch_size=self.val_batch_size or self.batch_size)
        summary = fit_module(
            self._build_module(self.net_), train_loader, val_loader,
            max_epochs=self.max_epochs, patience=self.patience, accelerator=self.accelerator,
            random_state=self.random_state, trainer_kwargs=self.trainer_kwargs,
            verbose=self.verbose,
        )
        self.net_.eval().to(resolve_device(self.accelerator))
        self.last_window_ = full[-self.lookback_:].copy()  # (lookback, C) scaled
        self.fit_summary_ = {**summary, "fit_seconds": time.perf_counter() - started,
                             "n_train_rows": int(val_start), "n_val_rows": len(full) - val_start}

    @torch.no_grad()
    def _forecast_windows(self, windows: np.ndarray) -> np.ndarray:
        """(n, C, lookback) scaled windows -> (n, horizon, C) scaled forecasts, batched."""
        n, c, _ = windows.shape
        device = next(self.net_.parameters()).device
        step = max(1, INFERENCE_BATCH // c)  # windows per batch
        out = np.empty((n, self.horizon, c))
        for i in range(0, n, step):
            x = torch.as_tensor(np.ascontiguousarray(windows[i : i + step]),
                                dtype=torch.float32, device=device)
            out[i : i + step] = self._forward(x).float().cpu().transpose(1, 2).numpy()
        # a column constant in the training data taught the network nothing, and its unit
        # scale passes the network's output through in raw units (a constant 0.007 came back
        # as 0.007 +- 0.5): repeat its last value
        flat = self._constant_columns()
        if flat.any():
            out[:, :, flat] = windows[:, flat, -1][:, None, :]
        return out

    def _forecast_scaled(self, history: np.ndarray | None,
                         x_history: np.ndarray | None = None,
                         x_future: np.ndarray | None = None) -> np.ndarray:
        window = self.last_window_ if history is None else history[-self.lookback_:]
        return self._forecast_windows(window.T[None])[0]

    def _advance(self, scaled: np.ndarray, series: Series, x: np.ndarray) -> dict[str, Any]:
        """The forecast reads only the last `lookback_` rows: keep those."""
        window = np.concatenate([self.last_window_, scaled])[-self.lookback_:]
        return {"last_window_": window}

    def _rolling_scaled(self, scaled: np.ndarray, series: Series,
                        cutoffs: np.ndarray, x: np.ndarray) -> np.ndarray:
        """Forecasts from every cutoff, batched: the lookback windows of all cutoffs go through
        the network in large batches without gradients; each result equals
        `predict(history=df[:c + 1])` up to float32 rounding."""
        # (T - lookback + 1, C, lookback) views; window i holds rows i .. i + lookback - 1
        views = np.lib.stride_tricks.sliding_window_view(scaled, self.lookback_, axis=0)
        return self._forecast_windows(views[cutoffs - self.lookback_ + 1])

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
        if tuple(window.shape) != (self.lookback_, len(self.columns_)):
            raise ValueError(f"tensor 'last_window' has shape {tuple(window.shape)}, expected "
                             f"(lookback={self.lookback_}, {len(self.columns_)} columns)")
        self.last_window_ = window.double().numpy().copy()
        self.fit_summary_ = extra["fit_summary"]
