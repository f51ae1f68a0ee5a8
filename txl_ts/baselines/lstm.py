"""`LSTMForecaster`: an LSTM over the patches of a lookback window, with a direct multi-horizon
head."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from ..lookback import Covariates, LookbackForecaster, scored_targets, split_batch
from ..params import (
    ACCELERATOR,
    BATCH_SIZE,
    COVARIATES,
    DROPOUT,
    HORIZON,
    ID_COL,
    LOOKBACK,
    LR,
    MAX_EPOCHS,
    PATIENCE,
    RANDOM_STATE,
    TARGETS,
    TIME_COL,
    TRAINER_KWARGS,
    VAL_SIZE,
    VERBOSE,
    WEIGHT_DECAY,
    WINDOW_STEP,
    Choices,
    Param,
    declared,
    non_negative_int,
    positive_int,
)
from ..seasonality import auto_patch_len, season_from_freq
from ..training import ForecastModule, masked_mse

# width of the per-step context that the final hidden state gives each horizon step, for the
# decoder that combines it with that step's future covariates
STEP_CONTEXT = 16


class LSTMNet(nn.Module):
    """Maps (N, lookback) windows of single channels to (N, horizon) forecasts.

    Each window is shifted by its last value and cut into lookback / patch_len consecutive
    patches; a stacked LSTM reads one patch per step, and its last hidden state feeds a linear
    head for all horizon steps at once; the last value is added back.

    With `n_covariates` K > 0, each LSTM step also reads the covariate rows of its patch
    (patch_len x K values beside the patch_len targets). With `n_future` F > 0 future-known
    covariates, a decoder adds a correction to every horizon step h: a small MLP of that
    step's F covariates and a STEP_CONTEXT-wide slice that a linear map draws from the last
    hidden state for step h (as TiDE's temporal decoder). Sharing the MLP across steps keeps
    the parameters few whatever the horizon, and the MLP lets a covariate's effect depend on
    the state and on the other covariates (demand rises with heat in the afternoon, less at
    night), which a linear term in the head could not express.
    """

    def __init__(self, lookback: int, horizon: int, hidden_size: int, n_layers: int,
                 dropout: float, n_channels: int, channel_embedding: int, patch_len: int = 1,
                 n_covariates: int = 0, n_future: int = 0):
        super().__init__()
        self.lookback, self.horizon, self.patch_len = lookback, horizon, patch_len
        self.embedding = (nn.Embedding(n_channels, channel_embedding)
                          if channel_embedding else None)
        self.lstm = nn.LSTM(patch_len * (1 + n_covariates) + channel_embedding, hidden_size,
                            n_layers, batch_first=True,
                            dropout=dropout if n_layers > 1 else 0.0)
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(hidden_size, horizon)
        # created after the others: without covariates the random initialisation is unchanged
        self.step_context = self.decoder = None
        if n_future:
            self.step_context = nn.Linear(hidden_size, horizon * STEP_CONTEXT)
            self.decoder = nn.Sequential(nn.Linear(STEP_CONTEXT + n_future, hidden_size),
                                         nn.ReLU(), nn.Linear(hidden_size, 1))

    def forward(self, x: torch.Tensor, channel_ids: torch.Tensor,
                covariates: Covariates | None = None) -> torch.Tensor:
        """x (N, lookback), channel_ids (N,), covariates ((N, lookback, K), (N, horizon, F))
        -> (N, horizon)."""
        n = len(x)
        anchor = x[:, -1:]  # (N, 1)
        inputs = (x - anchor).reshape(n, -1, self.patch_len)  # (N, L / patch_len, patch)
        if covariates is not None:  # each step's patch_len covariate rows, flattened
            rows = covariates[0].reshape(n, inputs.shape[1], -1)  # (N, L / patch, patch * K)
            inputs = torch.cat([inputs, rows], dim=-1)
        if self.embedding is not None:
            emb = self.embedding(channel_ids)[:, None, :].expand(-1, inputs.shape[1], -1)
            inputs = torch.cat([inputs, emb], dim=-1)
        encoded, _ = self.lstm(inputs)
        state = self.dropout(encoded[:, -1])  # (N, hidden)
        out = self.head(state)
        if self.decoder is not None and covariates is not None:
            context = self.step_context(state).reshape(n, self.horizon, STEP_CONTEXT)
            steps = torch.cat([context, covariates[1]], dim=-1)  # (N, H, STEP_CONTEXT + F)
            out = out + self.decoder(steps).squeeze(-1)
        return out + anchor


class LSTMModule(ForecastModule):
    """Trains `LSTMNet` on (B, C, lookback + horizon) windows, with their covariates when
    there are any (`txl_ts.lookback.CovariateWindows`); NaN targets are masked."""

    def __init__(self, net: LSTMNet, lr: float, weight_decay: float):
        super().__init__(lr, weight_decay)
        self.net = net

    def validation_shard(self, batch: torch.Tensor | list[torch.Tensor]
                         ) -> tuple[torch.Tensor, torch.Tensor]:
        return self.loss(batch), scored_targets(batch, self.net.lookback)

    def loss(self, batch: torch.Tensor | list[torch.Tensor]) -> torch.Tensor:
        batch, covariates = split_batch(batch)
        b, c, _ = batch.shape
        rows = batch.reshape(b * c, -1)
        channel_ids = torch.arange(c, device=rows.device).repeat(b)
        lookback = self.net.lookback
        return masked_mse(self.net(rows[:, :lookback], channel_ids,
                                   repeat_per_channel(covariates, c)), rows[:, lookback:])


def repeat_per_channel(covariates: Covariates | None, c: int) -> Covariates | None:
    """The covariates of N windows for their N * c channel sequences (window-major, as
    `reshape(N * c, ...)` orders them): every channel reads its window's covariates."""
    if covariates is None:
        return None
    return (covariates[0].repeat_interleave(c, dim=0),
            covariates[1].repeat_interleave(c, dim=0))


@declared
class LSTMForecaster(LookbackForecaster):
    """LSTM baseline: channel-independent sequence encoder with a direct multi-horizon head.

    Every channel is a separate univariate sequence through the same network (shared
    weights); `channel_embedding > 0` adds a learned per-channel vector of that size to each
    input step. The model reads the last `lookback` rows (`"auto"`: 14 seasons, 336 hourly,
    98 daily, as TXL's linear path; fewer on short series, see `LookbackForecaster`) and
    forecasts `horizon` steps at once. The LSTM steps over patches of `patch_len` rows, as
    SegRNN does: `"auto"` is the series' season by the rule TXL uses (24 hourly, 48
    half-hourly, 7 daily; see `txl_ts.seasonality.auto_patch_len`), cut to a divisor of the
    lookback; `patch_len=1` is the classic one-row-per-step LSTM, which on a CPU trains about
    160x slower at lookback 336 (docs/benchmarks.md section 5). Each input window is shifted by
    its own last value, and that value is added back to the forecast, so the network sees only
    changes relative to the present level: forecasts follow level shifts that were never seen
    in training.

    Training windows start every `window_step` rows (1 = every window; larger values train
    faster on long series). A validation tail of `val_size` rows (a fraction or a count; 0
    disables it), or `validation_data` passed to `fit`, drives early stopping on the mean
    squared error of forecasts whose origins lie in it; the best epoch's weights are kept.
    The learning rate is constant, so `max_epochs` (100) only bounds the run: early stopping
    (`patience` epochs without a better validation loss) ends it.

    Covariates (`past_covariates`, `future_covariates`, `calendar`, `holidays`): at every
    step the LSTM reads the covariate rows of its patch beside the targets (past covariates
    and the history of the future-known ones); the future-known covariates of the horizon
    reach a per-step decoder after the LSTM (see `LSTMNet`). Every channel reads the same
    covariates.

    Histories shorter than `lookback` rows are rejected with a ValueError naming the minimum
    (no padding: the network never saw padded windows in training).
    """

    PARAMS = (
        HORIZON,
        LOOKBACK,
        Param("patch_len", "auto", [positive_int(), Choices("auto")],
              "Rows the LSTM reads per step; must divide lookback. \"auto\" is the season "
              "(24 hourly, 7 daily; auto_patch_len) cut to a divisor of the lookback. 1 is the "
              "classic one-row-per-step LSTM, far slower on long lookbacks."),
        Param("hidden_size", 64, [positive_int()],
              "Width of the LSTM's hidden state. Larger for rich multi-season series, "
              "smaller to train faster."),
        Param("n_layers", 2, [positive_int()],
              "Stacked LSTM layers (dropout applies between them when there are two or "
              "more)."),
        DROPOUT.but(doc="Dropout rate in training (inactive in forecasts), between the LSTM "
                    "layers and before the head. Raise it when the model overfits."),
        Param("channel_embedding", 0, [non_negative_int()],
              "Size of a learned per-channel vector added to every input step; 0 (none) "
              "treats all channels alike. Try 4-16 when the columns behave differently."),
        WINDOW_STEP,
        LR,
        WEIGHT_DECAY,
        BATCH_SIZE.but(default=64),
        MAX_EPOCHS.but(default=100),
        PATIENCE,
        VAL_SIZE,
        RANDOM_STATE,
        TARGETS,
        *COVARIATES,
        TIME_COL,
        ID_COL,
        ACCELERATOR,
        TRAINER_KWARGS,
        VERBOSE,
    )

    def __init__(
        self,
        horizon: int = 96,
        lookback: int | str = "auto",
        patch_len: int | str = "auto",
        hidden_size: int = 64,
        n_layers: int = 2,
        dropout: float = 0.1,
        channel_embedding: int = 0,
        window_step: int = 1,
        lr: float = 1e-3,
        weight_decay: float = 1e-4,
        batch_size: int = 64,
        max_epochs: int = 100,
        patience: int = 3,
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
        self.lookback = lookback
        self.patch_len = patch_len
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
        if self.patch_len != "auto" and self.lookback != "auto" and self.lookback % self.patch_len:
            raise ValueError(f"patch_len ({self.patch_len}) must divide lookback "
                             f"({self.lookback}), or use patch_len='auto'")

    def _resolve(self, n_train: int) -> None:
        super()._resolve(n_train)
        if self.patch_len != "auto":
            self.patch_len_ = int(self.patch_len)
            if self.lookback_ % self.patch_len_:
                raise ValueError(f"patch_len ({self.patch_len_}) must divide the lookback "
                                 f"({self.lookback_} rows for frequency {self.freq_.freqstr})")
            return
        try:
            season = season_from_freq(self.freq_)
        except ValueError:
            season = 1  # no known cycle: the rule's smallest patch, as for TXL
        self.patch_len_ = auto_patch_len(season, divides=self.lookback_)

    # ---- the model ----------------------------------------------------------------------
    def _build_net(self, n_channels: int) -> LSTMNet:
        k, f = self._covariate_dims()
        return LSTMNet(self.lookback_, self.horizon, self.hidden_size, self.n_layers,
                       float(self.dropout), n_channels, self.channel_embedding, self.patch_len_,
                       n_covariates=k, n_future=f)

    def _build_module(self, net: LSTMNet) -> LSTMModule:
        return LSTMModule(net, float(self.lr), float(self.weight_decay))

    def _forward(self, windows: torch.Tensor,
                 covariates: Covariates | None = None) -> torch.Tensor:
        n, c, length = windows.shape  # channels are separate sequences through one network
        ids = torch.arange(c, device=windows.device).repeat(n)
        return self.net_(windows.reshape(n * c, length), ids,
                         repeat_per_channel(covariates, c)).reshape(n, c, -1)

    # ---- persistence ----------------------------------------------------------------------
    def _extra_state(self) -> dict[str, Any]:
        return {**super()._extra_state(), "patch_len": self.patch_len_}

    def _restore(self, tensors: dict[str, torch.Tensor], extra: dict[str, Any]) -> None:
        self._restore_lookback(extra)
        patch = extra.get("patch_len", 1)  # format 1-2 models read one row per step
        if (not isinstance(patch, int) or isinstance(patch, bool) or patch < 1
                or self.lookback_ % patch):
            raise ValueError(f"field 'patch_len' {patch!r} must be a positive integer that "
                             f"divides lookback ({self.lookback_})")
        self.patch_len_ = patch
        super()._restore(tensors, extra)
