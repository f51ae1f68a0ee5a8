"""`TXLForecaster`: the scikit-learn-style estimator around the Transformer-XL network."""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import pandas as pd
import torch

from .base import BaseForecaster, Capabilities
from .frames.validate import Series
from .params import declared
from .seasonality import auto_lookback, auto_patch_len, season_from_freq
from .training import (
    fit_module,
    min_fit_rows,
    resolve_device,
    validation_rows,
)
from .txl import Stream, StreamState, TokenGrid, TXLConfig, TXLModule, TXLNet
from .txl.batches import fit_loaders
from .txl.hyperparams import TXL_PARAMS, default_stride
from .txl.memory import TXLState, check_stream_state, forecast_many, forecasts_at
from .txl.module import fit_linear_path


@declared
class TXLForecaster(BaseForecaster):
    """Transformer-XL forecaster for regular multivariate series.

    Each channel is split into patches of `patch_len` steps every `stride` steps; patches are
    tokens, processed in segments of `segment_len` tokens, and every layer attends over a
    memory of its `mem_len` previous inputs. A forecast is a linear map of the last `lookback`
    rows (started as the seasonal naive) plus the newest token's residual, all in the units of
    a causal normalisation over the last `norm_window` rows (RevIN at the forecast origin).

    Frequency-aware defaults, resolved at fit into `season_`, `patch_len_`, `stride_`,
    `lookback_`, `norm_window_`: `patch_len="auto"` is the series' season (24 hourly, 48
    half-hourly, 7 daily; see `auto_patch_len`), `stride=None` is `patch_len` (half of it when
    the horizon is at most two patches: `default_stride`), `lookback="auto"` is 14 seasons
    (14 * patch_len without a known season), `norm_window=None` is `lookback`. With
    segment_len 8 and mem_len 16, hourly attention spans 17-24 days (half that at half
    stride).

    Training samples are `n_segments` consecutive segments at random positions, every token
    scored (the first `burn_in` segments, if any, only warm the memory, without gradients;
    `None` is half of them; on validation no warm-up beat scoring every token), or, with
    `stateful=True`, consecutive segments of `batch_size` parallel streams in time order.
    A validation tail of `val_size` rows (a fraction or a count; 0 disables it) drives early
    stopping; its loss is the MSE from every row of the tail, as a benchmark scores a test
    split. The linear path is warm-started by ridge regression towards the seasonal naive, or
    towards repeat-last when that validates more than 1% lower (`fit_linear_path`). The
    untrained model (the ridge linear forecast) is validated too, and kept when no epoch
    beats it. `loss` is the training loss ("huber", "mse", or "mae" as in SegRNN);
    validation always scores MSE.

    Covariates (`txl_ts.txl.covariates`) enter every token (its covariate rows, embedded
    beside its values); the future-known ones also enter the horizon, as a linear ARX term of
    the linear path (ridge-started with the lags) and a per-step encoder of width
    `covariate_width` that corrects the forecast.
    """

    PARAMS = TXL_PARAMS
    capabilities = Capabilities(update=True, fast_rolling=True, global_model=True)

    def __init__(
        self,
        horizon: int = 96,
        patch_len: int | str = "auto",
        stride: int | None = None,
        lookback: int | str = "auto",
        norm_window: int | None = None,
        norm_scale: bool = False,
        d_model: int = 64,
        n_heads: int = 4,
        n_layers: int = 2,
        d_ff: int = 128,
        dropout: float = 0.1,
        segment_len: int = 8,
        mem_len: int = 16,
        covariate_width: int = 32,
        covariate_dropout: float = 0.1,
        n_segments: int = 4,
        burn_in: int | None = 0,
        stateful: bool = False,
        lr: float = 3e-4,
        weight_decay: float = 1e-4,
        loss: str = "huber",
        linear_init: str = "ridge",
        batch_size: int = 32,
        max_epochs: int = 30,
        patience: int = 5,
        val_size: float | int = 0.2,
        random_state: int | None = 0,
        targets: list[str] | None = None,
        past_covariates: list[str] | None = None,
        future_covariates: list[str] | None = None,
        calendar: str | list[str] | None = None,
        holidays: str | tuple[str, str] | None = None,
        time_col: str | None = None,
        id_col: str | None = None,
        accelerator: str = "auto",
        trainer_kwargs: dict[str, Any] | None = None,
        verbose: bool | None = None,
    ):
        self.horizon = horizon
        self.patch_len = patch_len
        self.stride = stride
        self.lookback = lookback
        self.norm_window = norm_window
        self.norm_scale = norm_scale
        self.d_model = d_model
        self.n_heads = n_heads
        self.n_layers = n_layers
        self.d_ff = d_ff
        self.dropout = dropout
        self.segment_len = segment_len
        self.mem_len = mem_len
        self.covariate_width = covariate_width
        self.covariate_dropout = covariate_dropout
        self.n_segments = n_segments
        self.burn_in = burn_in
        self.stateful = stateful
        self.lr = lr
        self.weight_decay = weight_decay
        self.loss = loss
        self.linear_init = linear_init
        self.batch_size = batch_size
        self.max_epochs = max_epochs
        self.patience = patience
        self.val_size = val_size
        self.random_state = random_state
        self.targets = targets
        self.past_covariates = past_covariates
        self.future_covariates = future_covariates
        self.calendar = calendar
        self.holidays = holidays
        self.time_col = time_col
        self.id_col = id_col
        self.accelerator = accelerator
        self.trainer_kwargs = trainer_kwargs
        self.verbose = verbose

    # ---- validation -----------------------------------------------------------------------
    def _check_params(self) -> None:
        """The rules between parameters (each one alone is checked by its constraints)."""
        if self.d_model % self.n_heads:
            raise ValueError(
                f"d_model ({self.d_model}) must be divisible by n_heads ({self.n_heads})"
            )
        if self.burn_in is not None and self.burn_in >= self.n_segments:
            raise ValueError(
                f"burn_in ({self.burn_in}) must be smaller than n_segments ({self.n_segments}), "
                "or no segment contributes to the loss"
            )

    def _resolve(self, freq: pd.DateOffset, stride_rule=default_stride) -> None:
        """Turn the frequency-aware parameters into the fitted `*_` attributes."""
        try:
            season = season_from_freq(freq)
        except ValueError:
            season = 1  # no known cycle: the linear path starts as "repeat the last value"
        patch = auto_patch_len(season) if self.patch_len == "auto" else int(self.patch_len)
        stride = stride_rule(patch, self.horizon) if self.stride is None else int(self.stride)
        if stride > patch:
            raise ValueError(f"stride ({stride}) must not exceed patch_len ({patch}): "
                             "rows between patches would never be seen")
        if self.lookback == "auto":
            lookback = auto_lookback(season, patch)
        else:
            lookback = int(self.lookback)
        lookback = max(lookback, patch)
        norm = lookback if self.norm_window is None else int(self.norm_window)
        self.season_, self.patch_len_, self.stride_ = season, patch, stride
        self.lookback_, self.norm_window_ = lookback, norm
        self.burn_in_ = self.n_segments // 2 if self.burn_in is None else self.burn_in
        # the stream keeps what the linear path and the next token read
        context = max(lookback, patch, norm + stride)
        self.grid_ = TokenGrid(patch, stride, self.horizon, context=context)

    def _n_val(self, n_rows: int) -> int:
        # at least one stride, so that some token's forecast origin lies in the tail
        return validation_rows(self.val_size, n_rows, at_least=self._stride_hint())

    def _stride_hint(self) -> int:
        if hasattr(self, "stride_"):
            return self.stride_
        if self.stride is not None:
            return int(self.stride)
        return (default_stride(int(self.patch_len), self.horizon) if self.patch_len != "auto"
                else 1)

    def _min_fit_length(self) -> tuple[int, str]:
        # with patch_len="auto" the patch is known only once the frequency is: _fit_scaled
        # and the training loop check again with it
        patch = 1 if self.patch_len == "auto" else int(self.patch_len)
        stride = self._stride_hint()
        if self.stateful:  # one full segment per stream, or training runs zero steps
            need = max(patch + self.horizon, (self.segment_len - 1) * stride + patch)
            return min_fit_rows(need, "stateful: max(patch_len + horizon, (segment_len - 1) "
                                "* stride + patch_len)", self.val_size, at_least=stride)
        return min_fit_rows(patch + self.horizon, "patch_len + horizon", self.val_size,
                            at_least=stride)

    def _min_history_length(self) -> tuple[int, str]:
        return self.patch_len_, f"one patch of patch_len={self.patch_len_} rows"

    # ---- fitting --------------------------------------------------------------------------
    def _build_net(self, n_channels: int) -> TXLNet:
        roles = self._roles()
        return TXLNet(TXLConfig(
            n_channels=n_channels, patch_len=self.patch_len_, stride=self.stride_,
            horizon=self.horizon,
            forecast_len=self.grid_.forecast_len, lookback=self.lookback_,
            norm_window=self.norm_window_, scale=bool(self.norm_scale),
            season=self.season_ if self.season_ <= self.lookback_ else 1, d_model=self.d_model,
            n_heads=self.n_heads, n_layers=self.n_layers, d_ff=self.d_ff, dropout=self.dropout,
            segment_len=self.segment_len, mem_len=self.mem_len, n_past=roles.n_past,
            n_future=roles.n_covariates - roles.n_past, covariate_width=self.covariate_width,
            covariate_dropout=self.covariate_dropout,
        ))

    def _to_inference(self, net: TXLNet) -> TXLNet:
        """Eval mode, on the inference device, in float64 (float32 on MPS, which has none).

        Training runs in float32. Inference runs in float64 because its cost there is per
        operator, not arithmetic (a streaming step costs about the same), and because streaming
        and re-encoding compute the same forecast by different operator sequences: in float32
        they agree to about 1e-7 of the series' scale, which for a series whose standard deviation
        is 1e4 is 1e-3 in its own units; in float64 they agree far below any unit.
        """
        device = resolve_device(self.accelerator)
        return net.eval().to(device, torch.float32 if device.type == "mps" else torch.float64)

    def _stream(self) -> Stream:
        config = self.net_.config
        return Stream(self.net_, self.grid_, config.segment_len, config.mem_len)

    def _fit_scaled(self, train: np.ndarray, valid: np.ndarray | None,
                    x_train: np.ndarray, x_valid: np.ndarray | None) -> None:
        (part,) = self._fit_shared([(train, valid, x_train, x_valid)], ["df"])
        self._attach(*part)

    def _fit_shared(self, raws: list[tuple], names: list[str]) -> list[tuple]:
        """Train one network over the series `raws`, each (train, valid, x_train, x_valid)
        scaled as in `_fit_scaled`; returns each series' (full, x_full, val_start). The
        training windows of all series are drawn in proportion to their lengths."""
        started = time.perf_counter()
        self._resolve(self.freq_)
        grid = self.grid_
        need, why = min_fit_rows(grid.patch_len + self.horizon, "patch_len + horizon",
                                 self.val_size, at_least=grid.stride)
        parts = []
        for (train, valid, x_train, x_valid), name in zip(raws, names):
            if valid is None:
                full, x_full = train, x_train
                val_start = len(train) - self._n_val(len(train))
            else:
                full, x_full = np.concatenate([train, valid]), np.concatenate([x_train, x_valid])
                val_start = len(train)
            if val_start < grid.patch_len + self.horizon:
                raise ValueError(f"{name}: too few rows to fit: need at least {need} ({why}; "
                                 f"patch_len={grid.patch_len} for frequency "
                                 f"{self.freq_.freqstr})".removeprefix("df: "))
            parts.append((full, x_full, val_start))
        if self.stateful and len(parts) > 1:
            raise ValueError("stateful=True trains contiguous streams of one series; it is "
                             "not available for a long frame of several series")
        if self.random_state is not None:
            torch.manual_seed(self.random_state)
        n_channels = parts[0][0].shape[1]
        self.net_ = self._build_net(n_channels)
        series = [(torch.as_tensor(full.T, dtype=torch.float32),  # (C, T)
                   torch.as_tensor(x_full.T, dtype=torch.float32), val_start)  # (K, T)
                  for full, x_full, val_start in parts]
        ridge = (fit_linear_path(self.net_, grid, [v for v, _, _ in series],
                                 [s for _, _, s in series],
                                 x=([x for _, x, _ in series] if self.linear_init == "ridge"
                                    else None))
                 if self.linear_init != "seasonal" else {"alpha": None})
        generator = torch.Generator().manual_seed(self.random_state or 0)
        train_loader, val_loader, val_start = fit_loaders(
            series, grid, n_segments=self.n_segments, segment_len=self.segment_len,
            stateful=self.stateful, batch_size=self.batch_size, generator=generator)
        module = TXLModule(
            self.net_, grid, segment_len=self.net_.config.segment_len,
            mem_len=self.net_.config.mem_len,
            burn_in=self.burn_in_, stateful=self.stateful,
            val_start=val_start,
            lr=self.lr, weight_decay=self.weight_decay, loss=self.loss,
        )
        summary = fit_module(
            module, train_loader, val_loader, max_epochs=self.max_epochs,
            patience=self.patience, accelerator=self.accelerator,
            random_state=self.random_state, trainer_kwargs=self.trainer_kwargs,
            keep_start=True,  # the ridge warm start is a forecast worth keeping
            verbose=self.verbose,
        )
        self._to_inference(self.net_)
        n_train = sum(s for _, _, s in parts)
        self.fit_summary_ = {**summary, "linear_init_alpha": ridge["alpha"],
                             "linear_init_alpha_covariates": ridge.get("alpha_covariates"),
                             "linear_init_prior": ridge.get("prior"),
                             "linear_init_val_mse_by_prior": ridge.get("val_mse_by_prior"),
                             "linear_init_val_mse": ridge.get("val_mse"),
                             "fit_seconds": time.perf_counter() - started,
                             "n_train_rows": int(n_train),
                             "n_val_rows": int(sum(len(f) for f, _, _ in parts) - n_train)}
        if len(parts) > 1:
            self.fit_summary_["n_series"] = len(parts)
        return parts

    def _attach(self, full: np.ndarray, x_full: np.ndarray, val_start: int) -> None:
        """The streaming state after one series' fit rows (its memory and last rows)."""
        self.state_ = self._stream().feed(self._stream().start(full.shape[1]), full,
                                          x_full)[1]
        self.fitted_state_ = self.state_
        self.fitted_timestamp_ = self.history_index_[-1]

    # ---- forecasting ----------------------------------------------------------------------
    def _read_forecast(self, state: StreamState, x_future: np.ndarray | None = None
                       ) -> np.ndarray:
        if state.last_head is None:
            raise ValueError(f"no complete patch yet: at least patch_len={self.patch_len_} "
                             "rows of history are needed")
        return self._stream().forecast(state, x_future).T.double().cpu().numpy()  # (H, C)

    def _forecast_members(self, members: list[Any], x_futures: list[np.ndarray]
                          ) -> list[np.ndarray]:
        """Every series' forecast from its stream in one batched read."""
        states = [m.state_ for m in members]
        if any(s.last_head is None for s in states):
            return super()._forecast_members(members, x_futures)
        first = members[0]  # a panel's members share one network
        return forecast_many(first.net_, first.grid_, states, x_futures)

    def _forecast_scaled(self, history: np.ndarray | None,
                         x_history: np.ndarray | None = None,
                         x_future: np.ndarray | None = None) -> np.ndarray:
        if history is None:
            return self._read_forecast(self.state_, x_future)
        stream = self._stream()
        state = stream.feed(stream.start(history.shape[1]), history, x_history)[1]
        return self._read_forecast(state, x_future)

    def _rolling_scaled(self, scaled: np.ndarray, series: Series,
                        cutoffs: np.ndarray, x: np.ndarray) -> np.ndarray:
        """Forecasts from every integer cutoff `c` (rows `df[:c + 1]` known), in one pass.

        The memory advances once over `df`; each cutoff reads its newest complete token and
        the rows before it (and, with future covariates, their rows over its horizon), so the
        result equals `predict(history=df[:c + 1], future=df[c + 1:])` for every cutoff.
        """
        n_known = cutoffs + 1
        stream = self._stream()
        last = n_known.max()
        heads, _ = stream.feed(stream.start(scaled.shape[1]), scaled[:last], x[:last])
        padded = self.grid_.pad(torch.as_tensor(scaled[:last].T, dtype=heads.dtype,
                                                device=heads.device))
        future = None
        if self.net_.config.n_future:  # origin o = c + 1 reads rows o .. o + H - 1
            future = torch.as_tensor(x[: last + self.horizon, self.roles_.n_past :],
                                     dtype=heads.dtype, device=heads.device)
        out = forecasts_at(self.net_, self.grid_, heads, padded, n_known,
                           future=future)  # (n, C, H)
        return out.transpose(1, 2).double().cpu().numpy()  # (n, H, C)

    # ---- streaming ------------------------------------------------------------------------
    def _advance(self, scaled: np.ndarray, series: Series, x: np.ndarray) -> dict[str, Any]:
        """O(new rows): complete patches advance the memory; the last `lookback` rows are
        kept for the linear path and the next tokens."""
        _, state = self._stream().feed(self.state_, scaled, x)
        return {"state_": state}

    def get_state(self) -> TXLState:
        """The current streaming state, to restore later with `set_state`.

        The state is immutable: later calls to `update` build new states and never change
        this one, so it is safe to keep (e.g. to try updates and roll them back).

        Returns
        -------
        TXLState
            The memory, the rows the stream keeps, and the last known timestamp.

        Raises
        ------
        sklearn.exceptions.NotFittedError
            Before `fit`.
        """
        self._check_fitted()
        return TXLState(self.state_, self.history_index_[-1])

    def set_state(self, state: TXLState) -> TXLForecaster:
        """Restore a streaming state returned by `get_state`.

        The next `predict()` forecasts from that state's last timestamp, and the next
        `update` must continue from there. The weights and calibration do not change.

        Parameters
        ----------
        state : TXLState
            From `get_state` of this model, or of a model with the same parameters, weights
            and columns (e.g. a copy loaded from the same saved directory).

        Returns
        -------
        TXLForecaster
            self.

        Raises
        ------
        sklearn.exceptions.NotFittedError
            Before `fit`.
        TypeError
            If `state` is not a `TXLState`.
        ValueError
            If its tensors do not fit this model's layers, columns or sizes, or its timestamp
            is not in the model's time zone; the model is then left as it was.
        """
        self._check_fitted()
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
        check_stream_state(stream, name, self.net_.config, self.grid_,
                           self.net_.head.weight.dtype)

    def reset_state(self) -> TXLForecaster:
        """Return to the state right after `fit` (or `load`), forgetting every `update`.

        Returns
        -------
        TXLForecaster
            self.

        Raises
        ------
        sklearn.exceptions.NotFittedError
            Before `fit`.
        """
        self._check_fitted()
        self._commit({"state_": self.fitted_state_,
                      "history_index_": pd.DatetimeIndex([self.fitted_timestamp_])})
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
                "fitted_timestamp": self.fitted_timestamp_.isoformat(), "stride": self.stride_}

    def _restore(self, tensors: dict[str, torch.Tensor], extra: dict[str, Any]) -> None:
        # the same rules as at fit, from the saved params and freq; the stride is stored, since
        # `stride=None` resolved to the whole patch before `default_stride` (files without it)
        saved = extra["stride"] if "stride" in extra else None
        if saved is not None and (not isinstance(saved, int) or isinstance(saved, bool)):
            raise ValueError(f"extra.stride must be an integer, got {saved!r}")
        self._resolve(self.freq_, (lambda patch, horizon: saved) if saved is not None
                      else (lambda patch, horizon: patch))
        if saved is not None and self.stride_ != saved:
            raise ValueError(f"extra.stride ({saved}) contradicts the stride parameter "
                             f"({self.stride})")
        self.net_ = self._to_inference(self._build_net(len(self.columns_)))
        weight = self.net_.head.weight

        def part(prefix: str) -> dict[str, torch.Tensor]:
            # floats in the network's dtype (a model saved before float64 inference has float32
            # states), integers (the row count) as they are
            return {k[len(prefix):]: v.to(weight.device, weight.dtype if v.is_floating_point()
                                          else v.dtype)
                    for k, v in tensors.items() if k.startswith(prefix)}

        self.net_.load_state_dict(part("net."))
        self.state_ = StreamState.from_tensors(part("state."), self.n_layers)
        self.fitted_state_ = StreamState.from_tensors(part("fitted."), self.n_layers)
        self._check_stream_state(self.state_, "the stored state")
        self._check_stream_state(self.fitted_state_, "the stored fitted state")
        self.fit_summary_ = extra["fit_summary"]
        self.fitted_timestamp_ = self._parse_timestamp(extra["fitted_timestamp"])
