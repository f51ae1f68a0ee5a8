"""`TXLForecaster`: the scikit-learn-style estimator around the Transformer-XL network."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import torch
from sklearn.utils.validation import check_is_fitted
from torch.utils.data import DataLoader, Dataset

from .base import BaseForecaster
from .memory import Memory, Stream, StreamState, advance, patchify
from .model import TXLNet
from .training import (
    ForecastModule,
    Windows,
    check_training_params,
    fit_module,
    masked_mse,
    min_fit_rows,
    resolve_device,
    validation_rows,
)
from .validation import check_cutoffs, check_non_negative_int, check_positive_int


class TXLModule(ForecastModule):
    """Trains `TXLNet` on windows of `n_segments` segments, carrying memory between them."""

    def __init__(self, net: TXLNet, *, patch_len: int, stride: int, segment_len: int,
                 mem_len: int, burn_in: int, stateful: bool, val_start: int,
                 lr: float, weight_decay: float):
        super().__init__(lr, weight_decay)
        self.net = net
        self.patch_len, self.stride = patch_len, stride
        self.segment_len, self.mem_len = segment_len, mem_len
        self.burn_in, self.stateful, self.val_start = burn_in, stateful, val_start
        self._carry: Memory | None = None  # stateful mode: memory from the previous batch

    def on_train_epoch_start(self) -> None:
        self._carry = None

    def loss(self, batch: torch.Tensor) -> torch.Tensor:
        return self._unroll(batch, backward=False)

    def backward_loss(self, batch: torch.Tensor) -> torch.Tensor:
        return self._unroll(batch, backward=True)

    def _unroll(self, batch: torch.Tensor, backward: bool) -> torch.Tensor:
        """Masked MSE over the window's segments, unrolled with the memory carried along.

        With `backward`, each segment is back-propagated as soon as it is computed (truncated
        BPTT as in Transformer-XL): the memory is detached, so the gradients equal those of one
        backward over all segments while only one segment's graph is alive at a time.
        """
        # batch: (B, C, R) rows; R = (W - 1) * stride + patch_len + forecast_len
        b, c, _ = batch.shape
        f_len = self.net.head.out_features
        rows = batch.reshape(b * c, -1)
        channel_ids = torch.arange(c, device=rows.device).repeat(b)
        n_tokens = (rows.shape[1] - self.patch_len - f_len) // self.stride + 1
        span = (n_tokens - 1) * self.stride + self.patch_len
        patches = patchify(rows[:, :span], self.patch_len, self.stride)  # (BC, W, P)
        targets = rows[:, self.patch_len :].unfold(-1, f_len, self.stride)[:, :n_tokens]
        carried = self.stateful and self._carry is not None
        memory = self._carry if carried else Memory.empty(self.net, b * c, rows.device)
        skip = min((0 if carried else self.burn_in) * self.segment_len, n_tokens - 1)
        # count per segment: isfinite over the whole overlapping unfold view would materialise
        # a window-sized copy, and peak memory would grow with the window again
        n_scored = sum(
            int(torch.isfinite(targets[:, lo : lo + self.segment_len]).sum())
            for lo in range(skip, n_tokens, self.segment_len)
        ) or 1
        total = rows.new_zeros(())
        for start in range(0, n_tokens, self.segment_len):
            stop = min(start + self.segment_len, n_tokens)
            forecasts, memory = advance(self.net, memory, patches[:, start:stop], channel_ids,
                                        self.segment_len, self.mem_len)
            lo = max(skip, start)
            if lo >= stop:
                continue
            target = targets[:, lo:stop]
            mask = torch.isfinite(target)
            err = torch.where(mask, forecasts[:, lo - start :] - target.nan_to_num(), 0.0)
            seg_loss = err.pow(2).sum() / n_scored
            if backward:
                self.manual_backward(seg_loss)
                seg_loss = seg_loss.detach()
            total = total + seg_loss
        if self.stateful:
            self._carry = memory
        return total

    def validation_loss(self, batch: torch.Tensor) -> torch.Tensor:
        # batch: (1, C, T) the whole scaled series; score tokens whose origin is in the tail
        series = batch[0]
        stream = Stream(self.net, self.patch_len, self.stride, self.segment_len, self.mem_len)
        forecasts, _ = stream.feed(stream.start(series.shape[0]), series.T.cpu().numpy())
        f_len = self.net.head.out_features
        padded = torch.cat([series, series.new_full((series.shape[0], f_len), float("nan"))], 1)
        targets = padded[:, self.patch_len :].unfold(-1, f_len, self.stride)  # (C, N', F)
        first = max(0, math.ceil((self.val_start - self.patch_len) / self.stride))
        n = forecasts.shape[0]
        return masked_mse(forecasts[first:].transpose(0, 1), targets[:, first:n])


class _Chunks(Dataset):
    """Stateful mode: step j gives segment j of each of B contiguous streams, in time order."""

    def __init__(self, values: torch.Tensor, n_streams: int, tokens_per_stream: int,
                 segment_len: int, stride: int, window_rows: int, end: int):
        self.windows = Windows(values, window_rows, stride, n_streams * tokens_per_stream, end=end)
        self.n_streams, self.tokens_per_stream = n_streams, tokens_per_stream
        self.segment_len = segment_len

    def __len__(self) -> int:
        return self.tokens_per_stream // self.segment_len

    def __getitem__(self, j: int) -> torch.Tensor:
        starts = [s * self.tokens_per_stream + j * self.segment_len for s in range(self.n_streams)]
        return torch.stack([self.windows[t] for t in starts])  # (B, C, R)


@dataclass(frozen=True)
class TXLState:
    """The streaming state of a fitted `TXLForecaster`, as returned by `get_state`."""

    stream: StreamState
    last_timestamp: pd.Timestamp


class TXLForecaster(BaseForecaster):
    """Transformer-XL forecaster for regular multivariate series.

    Each channel is split into patches of `patch_len` steps every `stride` steps; patches are
    tokens, processed in segments of `segment_len` tokens, and every layer attends over a
    memory of its `mem_len` previous inputs. Every token forecasts the `horizon` steps after
    its patch, so one pass over a segment trains every token as a forecast origin.

    Training samples are `n_segments` consecutive segments drawn at random positions (memory
    carried across them, loss on all but the first `burn_in`), or, with `stateful=True`,
    consecutive segments of `batch_size` parallel streams in time order. A validation tail of
    `val_size` rows (a fraction or a count; 0 disables it) drives early stopping.
    """

    def __init__(
        self,
        horizon: int = 96,
        patch_len: int = 16,
        stride: int = 8,
        d_model: int = 64,
        n_heads: int = 4,
        n_layers: int = 2,
        d_ff: int = 128,
        dropout: float = 0.1,
        segment_len: int = 16,
        mem_len: int = 32,
        n_segments: int = 4,
        burn_in: int = 0,
        stateful: bool = False,
        lr: float = 1e-3,
        weight_decay: float = 1e-4,
        batch_size: int = 32,
        max_epochs: int = 20,
        patience: int = 3,
        val_size: float | int = 0.2,
        random_state: int | None = 0,
        targets: list[str] | None = None,
        time_col: str | None = None,
        accelerator: str = "auto",
        trainer_kwargs: dict[str, Any] | None = None,
    ):
        self.horizon = horizon
        self.patch_len = patch_len
        self.stride = stride
        self.d_model = d_model
        self.n_heads = n_heads
        self.n_layers = n_layers
        self.d_ff = d_ff
        self.dropout = dropout
        self.segment_len = segment_len
        self.mem_len = mem_len
        self.n_segments = n_segments
        self.burn_in = burn_in
        self.stateful = stateful
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
            horizon=self.horizon, patch_len=self.patch_len, stride=self.stride,
            d_model=self.d_model, n_heads=self.n_heads, n_layers=self.n_layers, d_ff=self.d_ff,
            segment_len=self.segment_len, n_segments=self.n_segments,
            batch_size=self.batch_size, max_epochs=self.max_epochs, patience=self.patience,
        )
        check_non_negative_int(mem_len=self.mem_len, burn_in=self.burn_in)
        if self.stride > self.patch_len:
            raise ValueError(
                f"stride ({self.stride}) must not exceed patch_len ({self.patch_len}): "
                "rows between patches would never be seen"
            )
        if self.d_model % self.n_heads:
            raise ValueError(
                f"d_model ({self.d_model}) must be divisible by n_heads ({self.n_heads})"
            )
        if self.burn_in >= self.n_segments:
            raise ValueError(
                f"burn_in ({self.burn_in}) must be smaller than n_segments ({self.n_segments}), "
                "or no segment contributes to the loss"
            )
        check_training_params(self.dropout, self.lr, self.weight_decay, self.val_size)

    def _n_val(self, n_rows: int) -> int:
        # at least one stride, so that some token's forecast origin lies in the tail
        return validation_rows(self.val_size, n_rows, at_least=self.stride)

    @property
    def forecast_len(self) -> int:
        """Steps each token forecasts: the horizon plus up to stride-1 rows of lag."""
        return self.horizon + self.stride - 1

    def _min_fit_length(self) -> tuple[int, str]:
        if self.stateful:  # one full segment per stream, or training runs zero steps
            need = max(self.patch_len + self.horizon,
                       (self.segment_len - 1) * self.stride + self.patch_len)
            return min_fit_rows(need, "stateful: max(patch_len + horizon, (segment_len - 1) "
                                "* stride + patch_len)", self.val_size, at_least=self.stride)
        return min_fit_rows(self.patch_len + self.horizon, "patch_len + horizon",
                            self.val_size, at_least=self.stride)

    def _min_history_length(self) -> tuple[int, str]:
        return self.patch_len, f"one patch of patch_len={self.patch_len} rows"

    # ---- fitting --------------------------------------------------------------------------
    def _build_net(self, n_channels: int) -> TXLNet:
        return TXLNet(
            patch_len=self.patch_len, n_channels=n_channels, forecast_len=self.forecast_len,
            d_model=self.d_model, n_heads=self.n_heads, n_layers=self.n_layers, d_ff=self.d_ff,
            dropout=self.dropout,
        )

    def _stream(self) -> Stream:
        return Stream(self.net_, self.patch_len, self.stride, self.segment_len, self.mem_len)

    def _fit_scaled(self, train: np.ndarray, valid: np.ndarray | None) -> None:
        started = time.perf_counter()
        if valid is None:
            n_val = self._n_val(len(train))
            full = train
            val_start = len(train) - n_val
        else:
            full = np.concatenate([train, valid])
            val_start = len(train)
        has_val = val_start < len(full)
        if self.random_state is not None:
            torch.manual_seed(self.random_state)
        n_channels = full.shape[1]
        self.net_ = self._build_net(n_channels)
        values = torch.as_tensor(full.T, dtype=torch.float32)  # (C, T)

        n_train_tokens = (val_start - self.patch_len) // self.stride + 1
        window_tokens = min(self.n_segments * self.segment_len, n_train_tokens)
        window_rows = (window_tokens - 1) * self.stride + self.patch_len + self.forecast_len
        generator = torch.Generator().manual_seed(self.random_state or 0)
        if self.stateful:
            n_streams = max(1, min(self.batch_size, n_train_tokens // self.segment_len))
            per_stream = n_train_tokens // n_streams
            seg_rows = (self.segment_len - 1) * self.stride + self.patch_len + self.forecast_len
            data = _Chunks(values, n_streams, per_stream, self.segment_len, self.stride,
                           seg_rows, end=val_start)
            train_loader = DataLoader(data, batch_size=None, shuffle=False)
        else:
            data = Windows(values, window_rows, self.stride,
                           n_starts=n_train_tokens - window_tokens + 1, end=val_start)
            train_loader = DataLoader(data, batch_size=self.batch_size, shuffle=True,
                                      generator=generator)
        val_loader = DataLoader([values], batch_size=1) if has_val else None
        module = TXLModule(
            self.net_, patch_len=self.patch_len, stride=self.stride,
            segment_len=self.segment_len, mem_len=self.mem_len, burn_in=self.burn_in,
            stateful=self.stateful, val_start=val_start, lr=self.lr,
            weight_decay=self.weight_decay,
        )
        summary = fit_module(
            module, train_loader, val_loader, max_epochs=self.max_epochs,
            patience=self.patience, accelerator=self.accelerator,
            random_state=self.random_state, trainer_kwargs=self.trainer_kwargs,
        )
        self.net_.eval().to(resolve_device(self.accelerator))
        self.state_ = self._stream().feed(self._stream().start(n_channels), full)[1]
        self.fitted_state_ = self.state_
        self.fit_summary_ = {**summary, "fit_seconds": time.perf_counter() - started,
                             "n_train_rows": int(val_start), "n_val_rows": len(full) - val_start}

    # ---- forecasting ----------------------------------------------------------------------
    def _read_forecast(self, state: StreamState) -> np.ndarray:
        if state.last_forecast is None:
            raise ValueError(f"no complete patch yet: at least patch_len={self.patch_len} rows "
                             "of history are needed")
        window = state.last_forecast[:, state.lag : state.lag + self.horizon]  # (C, H)
        return window.T.double().cpu().numpy()

    def _forecast_scaled(self, history: np.ndarray | None) -> np.ndarray:
        if history is None:
            return self._read_forecast(self.state_)
        stream = self._stream()
        return self._read_forecast(stream.feed(stream.start(history.shape[1]), history)[1])

    def rolling_forecasts(self, df: pd.DataFrame, cutoffs: np.ndarray) -> np.ndarray:
        """Forecasts from every integer cutoff `c` (rows `df[:c + 1]` known), in one pass.

        The memory advances once over `df`; each cutoff reads its newest complete token, so
        the result equals `predict(history=df[:c + 1])` for every cutoff.
        """
        check_is_fitted(self, "net_")
        series = self._validate_history(df, name="df")
        cutoffs = check_cutoffs(cutoffs, len(series.values), self.patch_len)
        if not len(cutoffs):
            return np.empty((0, self.horizon, len(self.columns_)))
        n_known = cutoffs + 1
        stream = self._stream()
        scaled = self._scale(series.values)
        tokens, _ = stream.feed(stream.start(scaled.shape[1]), scaled[: n_known.max()])
        last = (n_known - self.patch_len) // self.stride  # newest complete token per cutoff
        lag = n_known - (last * self.stride + self.patch_len)
        steps = torch.as_tensor(lag[:, None] + np.arange(self.horizon)[None, :])  # (n, H)
        picked = tokens[torch.as_tensor(last)]  # (n, C, F)
        index = steps[:, None, :].expand(-1, picked.shape[1], -1).to(picked.device)
        out = torch.gather(picked, 2, index).transpose(1, 2).double().cpu().numpy()  # (n, H, C)
        n, h, c = out.shape
        return self._unscale_rolling(out)

    # ---- streaming ------------------------------------------------------------------------
    def update(self, new_df: pd.DataFrame) -> TXLForecaster:
        """Absorb observations that continue the known timeline, at O(new rows) cost.

        Complete patches advance the memory; a trailing partial patch is buffered. On any
        error the state is left exactly as it was.
        """
        check_is_fitted(self, "net_")
        series = self._validate_continuation(new_df, "new_df")
        _, state = self._stream().feed(self.state_, self._scale(series.values))
        self._commit({"state_": state, "history_index_": series.index[-1:]})
        return self

    def get_state(self) -> TXLState:
        """The current streaming state (immutable; safe to keep and restore later)."""
        check_is_fitted(self, "net_")
        return TXLState(self.state_, self.history_index_[-1])

    def set_state(self, state: TXLState) -> TXLForecaster:
        """Restore a state from `get_state` of this model (or of one with the same weights)."""
        check_is_fitted(self, "net_")
        if not isinstance(state, TXLState):
            raise TypeError(f"expected a TXLState from get_state(), got {type(state).__name__}")
        self._check_stream_state(state.stream, "state")
        stamp = state.last_timestamp
        if not isinstance(stamp, pd.Timestamp) or pd.isna(stamp) or (
                (stamp.tz is None) != (self.history_index_.tz is None)):
            raise ValueError(f"state.last_timestamp {stamp!r} is not a timestamp of this "
                             "model's time zone")
        self._commit({"state_": state.stream, "history_index_": pd.DatetimeIndex([stamp])})
        return self

    def _check_stream_state(self, stream: object, name: str) -> None:
        """Raise ValueError unless `stream` fits this model's layers, columns and sizes."""
        c, d = len(self.columns_), self.d_model

        def bad(what: str) -> ValueError:
            return ValueError(f"{name} does not match this model's layers, columns ({c}), "
                              f"d_model or sizes: {what}")

        if not isinstance(stream, StreamState) or not isinstance(stream.memory, Memory):
            raise bad(f"expected a StreamState, got {type(stream).__name__}")
        mem = stream.memory
        if len(mem.mems) != self.n_layers or len(mem.prefix) != self.n_layers:
            raise bad(f"{len(mem.mems)} memory layers, expected n_layers={self.n_layers}")
        for group, limit in ((mem.mems, self.mem_len + 1), (mem.prefix, self.segment_len)):
            for t in group:
                if (not isinstance(t, torch.Tensor) or t.ndim != 3 or t.shape[0] != c
                        or t.shape[1] >= limit or t.shape[2] != d
                        or t.shape[1] != group[0].shape[1] or not t.is_floating_point()
                        or not bool(torch.isfinite(t).all())):
                    raise bad(f"memory tensor of shape {tuple(getattr(t, 'shape', ()))}, "
                              f"expected ({c}, < {limit}, {d}) finite floats")
        buf, last = stream.buffer, stream.last_forecast
        if (not isinstance(buf, torch.Tensor) or buf.ndim != 2 or buf.shape[0] != c
                or buf.shape[1] >= self.patch_len or not bool(torch.isfinite(buf).all())):
            raise bad(f"buffer of shape {tuple(getattr(buf, 'shape', ()))}, expected "
                      f"({c}, < patch_len={self.patch_len}) finite values")
        if last is not None and (
                not isinstance(last, torch.Tensor) or tuple(last.shape) != (c, self.forecast_len)
                or not bool(torch.isfinite(last).all())):
            raise bad(f"last forecast of shape {tuple(getattr(last, 'shape', ()))}, expected "
                      f"({c}, {self.forecast_len}) finite values")
        if not (isinstance(stream.n_rows, int) and isinstance(stream.lag, int)
                and stream.n_rows >= 0 and 0 <= stream.lag <= stream.n_rows
                and (last is None) == (stream.n_rows < self.patch_len)):
            raise bad(f"n_rows={stream.n_rows!r}, lag={stream.lag!r}")

    def reset_state(self) -> TXLForecaster:
        """Return to the state right after `fit`, forgetting every `update`."""
        check_is_fitted(self, "net_")
        self._commit({"state_": self.fitted_state_,
                      "history_index_": pd.DatetimeIndex([self.fitted_timestamp_])})
        return self

    def fit(self, df: pd.DataFrame, validation_data: pd.DataFrame | None = None):
        super().fit(df, validation_data)
        self.fitted_timestamp_ = self.history_index_[-1]
        return self

    # ---- persistence ----------------------------------------------------------------------
    def _tensors_to_save(self) -> dict[str, torch.Tensor]:
        tensors = {f"net.{k}": v for k, v in self.net_.state_dict().items()}
        tensors.update({f"state.{k}": v for k, v in self.state_.to_tensors().items()})
        # clone: right after fit (or until the memory moves) the two states share tensors,
        # which safetensors refuses to write
        fitted = self.fitted_state_.to_tensors()
        tensors.update({f"fitted.{k}": v.clone() for k, v in fitted.items()})
        return tensors

    def _extra_state(self) -> dict[str, Any]:
        return {"fit_summary": self.fit_summary_,
                "fitted_timestamp": self.fitted_timestamp_.isoformat()}

    def _restore(self, tensors: dict[str, torch.Tensor], extra: dict[str, Any]) -> None:
        device = resolve_device(self.accelerator)

        def part(prefix: str) -> dict[str, torch.Tensor]:
            return {k[len(prefix):]: v.to(device) for k, v in tensors.items()
                    if k.startswith(prefix)}

        self.net_ = self._build_net(len(self.columns_))
        self.net_.load_state_dict(part("net."))
        self.net_.eval().to(device)
        self.state_ = StreamState.from_tensors(part("state."), self.n_layers)
        self.fitted_state_ = StreamState.from_tensors(part("fitted."), self.n_layers)
        self._check_stream_state(self.state_, "the stored state")
        self._check_stream_state(self.fitted_state_, "the stored fitted state")
        self.fit_summary_ = extra["fit_summary"]
        self.fitted_timestamp_ = self._parse_timestamp(extra["fitted_timestamp"])
