"""`DLinearForecaster`: trend/remainder decomposition and two linear maps (Zeng et al., 2023)."""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
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
from ..validation import check_cutoffs, check_positive_int

INFERENCE_BATCH = 4096  # windows per forward pass in rolling forecasts


class DLinearNet(nn.Module):
    """Maps (N, C, lookback) windows to (N, C, horizon) forecasts.

    trend = moving average (kernel `kernel`, ends padded by repeating the edge values);
    remainder = window - trend; forecast = trend_map(trend) + remainder_map(remainder).
    Each map is one linear layer lookback -> horizon, shared by every channel, or one per
    channel when `individual`.
    """

    def __init__(self, lookback: int, horizon: int, kernel: int, n_channels: int,
                 individual: bool):
        super().__init__()
        self.lookback, self.kernel = lookback, kernel
        n_maps = n_channels if individual else 1
        self.trend = nn.ModuleList(nn.Linear(lookback, horizon) for _ in range(n_maps))
        self.remainder = nn.ModuleList(nn.Linear(lookback, horizon) for _ in range(n_maps))

    def decompose(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(N, C, L) -> trend, remainder, both (N, C, L)."""
        n, c, length = x.shape
        front, back = (self.kernel - 1) // 2, self.kernel // 2  # keeps the length for any kernel
        padded = F.pad(x.reshape(n * c, 1, length), (front, back), mode="replicate")
        trend = F.avg_pool1d(padded, self.kernel, stride=1).reshape(n, c, length)
        return trend, x - trend

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        trend, remainder = self.decompose(x)  # (N, C, L) each
        if len(self.trend) == 1:
            return self.trend[0](trend) + self.remainder[0](remainder)  # (N, C, H)
        return torch.stack([t(trend[:, i]) + r(remainder[:, i]) for i, (t, r)
                            in enumerate(zip(self.trend, self.remainder, strict=True))], dim=1)


class DLinearModule(ForecastModule):
    """Trains `DLinearNet` on (B, C, lookback + horizon) windows with Adam, halving the
    learning rate after every epoch (the DLinear paper's schedule); NaN targets are masked."""

    def __init__(self, net: DLinearNet, lr: float, weight_decay: float, lr_decay: float):
        super().__init__(lr, weight_decay, grad_clip=None)
        self.net, self.lr_decay = net, lr_decay

    def loss(self, batch: torch.Tensor) -> torch.Tensor:
        lookback = self.net.lookback
        return masked_mse(self.net(batch[:, :, :lookback]), batch[:, :, lookback:])

    def configure_optimizers(self):
        optimizer = torch.optim.Adam(self.parameters(), lr=self.lr,
                                     weight_decay=self.weight_decay)
        return [optimizer], [torch.optim.lr_scheduler.ExponentialLR(optimizer, self.lr_decay)]

    def on_train_epoch_end(self) -> None:
        self.lr_schedulers().step()  # manual optimisation: Lightning leaves the stepping to us


class DLinearForecaster(BaseForecaster):
    """DLinear baseline: moving-average trend/remainder decomposition of the last `lookback`
    rows and one linear map lookback -> horizon for each part; their sum is the forecast.

    Channels are independent: the same two maps forecast every column (`individual=True`
    gives each column its own pair, as in the paper's "individual" variant). `kernel` is the
    moving-average width (25 in the paper), with the window's first and last values repeated
    to pad its ends.

    Training follows the paper: Adam at `lr`, batch 32, the learning rate multiplied by
    `lr_decay` (halved) after every epoch. A validation tail of `val_size` rows (a fraction or
    a count; 0 disables it), or `validation_data` passed to `fit`, drives early stopping on the
    mean squared error of forecasts whose origins lie in it; the best epoch's weights are kept.
    Histories shorter than `lookback` rows are rejected with a ValueError naming the minimum.
    """

    def __init__(
        self,
        horizon: int = 96,
        lookback: int = 336,
        kernel: int = 25,
        individual: bool = False,
        window_step: int = 1,
        lr: float = 0.005,
        lr_decay: float = 0.5,
        weight_decay: float = 0.0,
        batch_size: int = 32,
        max_epochs: int = 30,
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
        self.kernel = kernel
        self.individual = individual
        self.window_step = window_step
        self.lr = lr
        self.lr_decay = lr_decay
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
            horizon=self.horizon, lookback=self.lookback, kernel=self.kernel,
            window_step=self.window_step, batch_size=self.batch_size,
            max_epochs=self.max_epochs, patience=self.patience,
        )
        if not isinstance(self.individual, (bool, np.bool_)):
            raise ValueError(f"individual must be True or False, got {self.individual!r}")
        if not 0.0 < float(self.lr_decay) <= 1.0:
            raise ValueError(f"lr_decay must be in (0, 1], got {self.lr_decay}")
        check_training_params(0.0, self.lr, self.weight_decay, self.val_size)

    def _min_fit_length(self) -> tuple[int, str]:
        return min_fit_rows(self.lookback + self.horizon, "lookback + horizon", self.val_size)

    def _min_history_length(self) -> tuple[int, str]:
        return self.lookback, f"lookback={self.lookback} rows"

    # ---- fitting --------------------------------------------------------------------------
    def _build_net(self, n_channels: int) -> DLinearNet:
        return DLinearNet(self.lookback, self.horizon, self.kernel, n_channels,
                          bool(self.individual))

    def _fit_scaled(self, train: np.ndarray, valid: np.ndarray | None) -> None:
        started = time.perf_counter()
        if valid is None:
            full = train
            val_start = len(train) - validation_rows(self.val_size, len(train))
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
            val_loader = DataLoader(val_data, batch_size=256)  # no gradients: larger batches
        module = DLinearModule(self.net_, float(self.lr), float(self.weight_decay),
                               float(self.lr_decay))
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
        """(n, C, lookback) scaled windows -> (n, horizon, C) scaled forecasts."""
        device = next(self.net_.parameters()).device
        x = torch.as_tensor(windows, dtype=torch.float32)
        out = torch.cat([self.net_(x[i : i + INFERENCE_BATCH].to(device)).float().cpu()
                         for i in range(0, len(x), INFERENCE_BATCH)])
        return out.transpose(1, 2).double().numpy()

    def _forecast_scaled(self, history: np.ndarray | None) -> np.ndarray:
        window = self.last_window_ if history is None else history[-self.lookback:]
        return self._forecast_windows(window.T[None])[0]

    def rolling_forecasts(self, df: pd.DataFrame, cutoffs: np.ndarray) -> np.ndarray:
        """Forecasts from every integer cutoff `c` (rows `df[:c + 1]` known), batched.

        The lookback windows of all cutoffs go through the network in large batches without
        gradients; each result equals `predict(history=df[:c + 1])` up to float32 rounding.
        """
        check_is_fitted(self, "net_")
        series = self._validate_history(df, name="df")
        raw = check_cutoffs(cutoffs, len(series.values), self.lookback)
        scaled = self._scale(series.values)
        # (T - lookback + 1, C, lookback) views; window i holds rows i .. i + lookback - 1
        views = np.lib.stride_tricks.sliding_window_view(scaled, self.lookback, axis=0)
        return self._unscale_rolling(self._forecast_windows(views[raw - self.lookback + 1]))

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
