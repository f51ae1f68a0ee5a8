"""`LSTMForecaster`: an LSTM encoder over a lookback window with a direct multi-horizon head."""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import pandas as pd
import torch
from sklearn.utils.validation import check_is_fitted
from torch import nn
from torch.utils.data import DataLoader

from ..base import BaseForecaster
from ..training import (
    ForecastModule,
    Windows,
    check_training_params,
    fit_module,
    masked_mse,
    min_fit_rows,
    resolve_device,
    validation_rows,
)
from ..validation import check_cutoffs, check_non_negative_int, check_positive_int

INFERENCE_BATCH = 4096  # sequences per forward pass in rolling forecasts


class LSTMNet(nn.Module):
    """Maps (N, lookback) windows of single channels to (N, horizon) forecasts.

    Each window is shifted by its last value, encoded by a stacked LSTM, and the last hidden
    state feeds a linear head for all horizon steps at once; the last value is added back.
    """

    def __init__(self, lookback: int, horizon: int, hidden_size: int, n_layers: int,
                 dropout: float, n_channels: int, channel_embedding: int):
        super().__init__()
        self.lookback = lookback
        self.embedding = (nn.Embedding(n_channels, channel_embedding)
                          if channel_embedding else None)
        self.lstm = nn.LSTM(1 + channel_embedding, hidden_size, n_layers, batch_first=True,
                            dropout=dropout if n_layers > 1 else 0.0)
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(hidden_size, horizon)

    def forward(self, x: torch.Tensor, channel_ids: torch.Tensor) -> torch.Tensor:
        anchor = x[:, -1:]
        inputs = (x - anchor).unsqueeze(-1)  # (N, L, 1)
        if self.embedding is not None:
            emb = self.embedding(channel_ids)[:, None, :].expand(-1, x.shape[1], -1)
            inputs = torch.cat([inputs, emb], dim=-1)
        encoded, _ = self.lstm(inputs)
        return self.head(self.dropout(encoded[:, -1])) + anchor


class LSTMModule(ForecastModule):
    """Trains `LSTMNet` on (B, C, lookback + horizon) windows; NaN targets are masked."""

    def __init__(self, net: LSTMNet, lr: float, weight_decay: float):
        super().__init__(lr, weight_decay)
        self.net = net

    def loss(self, batch: torch.Tensor) -> torch.Tensor:
        b, c, _ = batch.shape
        rows = batch.reshape(b * c, -1)
        channel_ids = torch.arange(c, device=rows.device).repeat(b)
        lookback = self.net.lookback
        return masked_mse(self.net(rows[:, :lookback], channel_ids), rows[:, lookback:])


class LSTMForecaster(BaseForecaster):
    """LSTM baseline: channel-independent sequence encoder with a direct multi-horizon head.

    Every channel is a separate univariate sequence through the same network (shared
    weights); `channel_embedding > 0` adds a learned per-channel vector of that size to each
    input step. The model reads the last `lookback` rows and forecasts `horizon` steps at
    once. Each input window is shifted by its own last value, and that value is added back
    to the forecast, so the network sees only changes relative to the present level: forecasts
    follow level shifts that were never seen in training.

    Training windows start every `window_step` rows (1 = every window; larger values train
    faster on long series). A validation tail of `val_size` rows (a fraction or a count; 0
    disables it), or `validation_data` passed to `fit`, drives early stopping on the mean
    squared error of forecasts whose origins lie in it; the best epoch's weights are kept.

    Histories shorter than `lookback` rows are rejected with a ValueError naming the minimum
    (no padding: the network never saw padded windows in training).
    """

    def __init__(
        self,
        horizon: int = 96,
        lookback: int = 336,
        hidden_size: int = 64,
        n_layers: int = 2,
        dropout: float = 0.1,
        channel_embedding: int = 0,
        window_step: int = 1,
        lr: float = 1e-3,
        weight_decay: float = 1e-4,
        batch_size: int = 64,
        max_epochs: int = 10,
        patience: int = 3,
        val_size: float | int = 0.2,
        random_state: int | None = 0,
        targets: list[str] | None = None,
        time_col: str | None = None,
        accelerator: str = "auto",
        trainer_kwargs: dict[str, Any] | None = None,
    ):
        self.horizon = horizon
        self.lookback = lookback
        self.hidden_size = hidden_size
        self.n_layers = n_layers
        self.dropout = dropout
        self.channel_embedding = channel_embedding
        self.window_step = window_step
        self.lr = lr
        self.weight_decay = weight_decay
        self.batch_size = batch_size
        self.max_epochs = max_epochs
        self.patience = patience
        self.val_size = val_size
        self.random_state = random_state
        self.targets = targets
        self.time_col = time_col
        self.accelerator = accelerator
        self.trainer_kwargs = trainer_kwargs

    # ---- validation -----------------------------------------------------------------------
    def _check_params(self) -> None:
        check_positive_int(
            horizon=self.horizon, lookback=self.lookback, hidden_size=self.hidden_size,
            n_layers=self.n_layers, window_step=self.window_step, batch_size=self.batch_size,
            max_epochs=self.max_epochs, patience=self.patience,
        )
        check_non_negative_int(channel_embedding=self.channel_embedding)
        check_training_params(self.dropout, self.lr, self.weight_decay, self.val_size)

    def _n_val(self, n_rows: int) -> int:
        return validation_rows(self.val_size, n_rows)

    def _min_fit_length(self) -> tuple[int, str]:
        return min_fit_rows(self.lookback + self.horizon, "lookback + horizon", self.val_size)

    def _min_history_length(self) -> tuple[int, str]:
        return self.lookback, f"lookback={self.lookback} rows"

    # ---- fitting --------------------------------------------------------------------------
    def _build_net(self, n_channels: int) -> LSTMNet:
        return LSTMNet(self.lookback, self.horizon, self.hidden_size, self.n_layers,
                       float(self.dropout), n_channels, self.channel_embedding)

    def _fit_scaled(self, train: np.ndarray, valid: np.ndarray | None) -> None:
        started = time.perf_counter()
        if valid is None:
            full, val_start = train, len(train) - self._n_val(len(train))
        else:
            full, val_start = np.concatenate([train, valid]), len(train)
        if self.random_state is not None:
            torch.manual_seed(self.random_state)
        self.net_ = self._build_net(full.shape[1])
        values = torch.as_tensor(full.T, dtype=torch.float32)  # (C, T)
        length = self.lookback + self.horizon
        # training windows: inputs inside the training rows and at least one target there
        n_train = (val_start - self.lookback - 1) // self.window_step + 1
        train_data = Windows(values, length, self.window_step, n_train, end=val_start)
        generator = torch.Generator().manual_seed(self.random_state or 0)
        train_loader = DataLoader(train_data, batch_size=self.batch_size, shuffle=True,
                                  generator=generator)
        val_loader = None
        if val_start < len(full):
            # validation windows: forecast origins at rows val_start - 1 .. len(full) - 2
            first = val_start - self.lookback
            n_val = (len(full) - 1 - val_start) // self.window_step + 1
            val_data = Windows(values[:, first:], length, self.window_step, n_val,
                               end=len(full) - first)
            val_loader = DataLoader(val_data, batch_size=self.batch_size)
        module = LSTMModule(self.net_, float(self.lr), float(self.weight_decay))
        summary = fit_module(
            module, train_loader, val_loader, max_epochs=self.max_epochs,
            patience=self.patience, accelerator=self.accelerator,
            random_state=self.random_state, trainer_kwargs=self.trainer_kwargs,
        )
        self.net_.eval().to(resolve_device(self.accelerator))
        self.last_window_ = full[-self.lookback:].copy()  # (lookback, C) scaled
        self.fit_summary_ = {**summary, "fit_seconds": time.perf_counter() - started,
                             "n_train_rows": int(val_start), "n_val_rows": len(full) - val_start}

    # ---- forecasting ----------------------------------------------------------------------
    @torch.no_grad()
    def _forecast_windows(self, windows: np.ndarray) -> np.ndarray:
        """(n, lookback, C) scaled windows -> (n, horizon, C) scaled forecasts."""
        n, length, c = windows.shape
        device = next(self.net_.parameters()).device
        seqs = torch.as_tensor(windows.transpose(0, 2, 1).reshape(n * c, length),
                               dtype=torch.float32)
        ids = torch.arange(c).repeat(n)
        out = torch.empty(n * c, self.horizon)
        for start in range(0, n * c, INFERENCE_BATCH):
            part = slice(start, start + INFERENCE_BATCH)
            out[part] = self.net_(seqs[part].to(device), ids[part].to(device)).float().cpu()
        return out.reshape(n, c, self.horizon).transpose(1, 2).double().numpy()

    def _forecast_scaled(self, history: np.ndarray | None) -> np.ndarray:
        window = self.last_window_ if history is None else history[-self.lookback:]
        return self._forecast_windows(window[None])[0]

    def rolling_forecasts(self, df: pd.DataFrame, cutoffs: np.ndarray) -> np.ndarray:
        """Forecasts from every integer cutoff `c` (rows `df[:c + 1]` known), batched.

        The lookback windows of all cutoffs go through the network in large batches without
        gradients; each result equals `predict(history=df[:c + 1])` up to float32 rounding.
        """
        check_is_fitted(self, "net_")
        series = self._validate_history(df, name="df")
        raw = check_cutoffs(cutoffs, len(series.values), self.lookback)
        scaled = self._scale(series.values)
        views = np.lib.stride_tricks.sliding_window_view(scaled, self.lookback, axis=0)
        starts = raw - self.lookback + 1
        n, h, c = len(raw), self.horizon, scaled.shape[1]
        out = np.empty((n, h, c))
        step = max(1, INFERENCE_BATCH // c)  # cutoffs per batch
        for i in range(0, n, step):
            windows = views[starts[i : i + step]].transpose(0, 2, 1)  # (b, lookback, C)
            out[i : i + step] = self._forecast_windows(windows)
        return self._unscale_rolling(out)

    # ---- persistence ----------------------------------------------------------------------
    def _tensors_to_save(self) -> dict[str, torch.Tensor]:
        tensors = {f"net.{k}": v for k, v in self.net_.state_dict().items()}
        tensors["last_window"] = torch.from_numpy(self.last_window_)
        return tensors

    def _extra_state(self) -> dict[str, Any]:
        return {"fit_summary": self.fit_summary_}

    def _restore(self, tensors: dict[str, torch.Tensor], extra: dict[str, Any]) -> None:
        self.net_ = self._build_net(len(self.columns_))
        self.net_.load_state_dict({k[4:]: v for k, v in tensors.items() if k.startswith("net.")})
        self.net_.eval().to(resolve_device(self.accelerator))
        window = tensors["last_window"]
        if tuple(window.shape) != (self.lookback, len(self.columns_)):
            raise ValueError(f"tensor 'last_window' has shape {tuple(window.shape)}, expected "
                             f"(lookback={self.lookback}, {len(self.columns_)} columns)")
        self.last_window_ = window.double().numpy().copy()
        self.fit_summary_ = extra["fit_summary"]
