"""`DLinearForecaster`: trend/remainder decomposition and two linear maps (Zeng et al., 2023)."""

from __future__ import annotations

from numbers import Real
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from ..lookback import Covariates, LookbackForecaster, scored_targets, split_batch
from ..params import (
    ACCELERATOR,
    BATCH_SIZE,
    COVARIATES,
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
    Range,
    declared,
    positive_int,
)
from ..training import ForecastModule, masked_mse

# How DLinearNet takes the level out of an input window (see the `normalize` parameter):
# nothing, its last value (NLinear's subtract-last), its mean, or its mean and standard
# deviation (RevIN, without the affine map)
NORMALIZE = ("none", "last", "mean", "revin")
REVIN_EPS = 1e-5


class DLinearNet(nn.Module):
    """Maps (N, C, lookback) windows to (N, C, horizon) forecasts.

    trend = moving average (kernel `kernel`, ends padded by repeating the edge values);
    remainder = window - trend; forecast = trend_map(trend) + remainder_map(remainder).
    Each map is one linear layer lookback -> horizon, shared by every channel, or one per
    channel when `individual`.

    With covariates the model stays linear (an ARX model): one more map, without bias, from
    the (lookback x K) covariate window and the (horizon x F) future-known covariates of the
    horizon to the horizon steps, added to every channel's forecast (one map per channel
    when `individual`). It starts at zero, so training starts from the model without
    covariates.

    `normalize` takes each channel's level (and scale) out of its own input window before the
    maps and puts it back into the forecast (`NORMALIZE` lists the options); it reads only the
    window, so it is causal. The covariate term is added after the level is restored: it
    stays in the scaled units of the targets, and the model stays a linear ARX model.
    """

    def __init__(self, lookback: int, horizon: int, kernel: int, n_channels: int,
                 individual: bool, n_covariates: int = 0, n_future: int = 0,
                 normalize: str = "none"):
        super().__init__()
        if normalize not in NORMALIZE:
            raise ValueError(f"normalize must be one of {NORMALIZE}, got {normalize!r}")
        self.lookback, self.horizon, self.kernel = lookback, horizon, kernel
        self.normalize = normalize
        n_maps = n_channels if individual else 1
        self.trend = nn.ModuleList(nn.Linear(lookback, horizon) for _ in range(n_maps))
        self.remainder = nn.ModuleList(nn.Linear(lookback, horizon) for _ in range(n_maps))
        self.covariates = None  # created last: without covariates the initialisation is as ever
        if n_covariates:
            self.covariates = nn.Linear(lookback * n_covariates + horizon * n_future,
                                        n_maps * horizon, bias=False)
            nn.init.zeros_(self.covariates.weight)

    def decompose(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(N, C, L) -> trend, remainder, both (N, C, L)."""
        n, c, length = x.shape
        front, back = (self.kernel - 1) // 2, self.kernel // 2  # keeps the length for any kernel
        padded = F.pad(x.reshape(n * c, 1, length), (front, back), mode="replicate")
        trend = F.avg_pool1d(padded, self.kernel, stride=1).reshape(n, c, length)
        return trend, x - trend

    def level(self, x: torch.Tensor) -> tuple[torch.Tensor | None, torch.Tensor | None]:
        """(N, C, L) -> the level and scale `normalize` takes out of each window, (N, C, 1)
        each, or None where it takes none."""
        if self.normalize == "last":
            return x[:, :, -1:], None
        if self.normalize == "mean":
            return x.mean(dim=-1, keepdim=True), None
        if self.normalize == "revin":
            # RevIN's statistics without its affine map (no parameters, so saved files of
            # every option hold the same tensors); the epsilon keeps a flat window finite
            mean = x.mean(dim=-1, keepdim=True)
            return mean, torch.sqrt(x.var(dim=-1, keepdim=True, unbiased=False) + REVIN_EPS)
        return None, None

    def forward(self, x: torch.Tensor, covariates: Covariates | None = None) -> torch.Tensor:
        """x (N, C, L), covariates ((N, L, K), (N, H, F)) -> (N, C, H)."""
        level, scale = self.level(x)
        if level is not None:
            x = x - level
        if scale is not None:
            x = x / scale
        trend, remainder = self.decompose(x)  # (N, C, L) each
        if len(self.trend) == 1:
            out = self.trend[0](trend) + self.remainder[0](remainder)  # (N, C, H)
        else:
            out = torch.stack([t(trend[:, i]) + r(remainder[:, i]) for i, (t, r)
                               in enumerate(zip(self.trend, self.remainder, strict=True))],
                              dim=1)
        if scale is not None:
            out = out * scale
        if level is not None:
            out = out + level
        if self.covariates is None or covariates is None:
            return out
        inputs = torch.cat([covariates[0].flatten(1), covariates[1].flatten(1)], dim=1)
        # (N, 1 or C, H): one map broadcasts over the channels
        return out + self.covariates(inputs).reshape(len(x), -1, self.horizon)


class DLinearModule(ForecastModule):
    """Trains `DLinearNet` on (B, C, lookback + horizon) windows with Adam, halving the
    learning rate after every epoch (the DLinear paper's schedule); NaN targets are masked."""

    def __init__(self, net: DLinearNet, lr: float, weight_decay: float, lr_decay: float):
        super().__init__(lr, weight_decay, grad_clip=None)
        self.net, self.lr_decay = net, lr_decay

    def validation_shard(self, batch: torch.Tensor | list[torch.Tensor]
                         ) -> tuple[torch.Tensor, torch.Tensor]:
        return self.loss(batch), scored_targets(batch, self.net.lookback)

    def loss(self, batch: torch.Tensor | list[torch.Tensor]) -> torch.Tensor:
        batch, covariates = split_batch(batch)
        lookback = self.net.lookback
        return masked_mse(self.net(batch[:, :, :lookback], covariates),
                          batch[:, :, lookback:])

    def configure_optimizers(self):
        optimizer = torch.optim.Adam(self.parameters(), lr=self.lr,
                                     weight_decay=self.weight_decay)
        return [optimizer], [torch.optim.lr_scheduler.ExponentialLR(optimizer, self.lr_decay)]

    def on_train_epoch_end(self) -> None:
        self.lr_schedulers().step()  # manual optimisation: Lightning leaves the stepping to us


@declared
class DLinearForecaster(LookbackForecaster):
    """DLinear baseline: moving-average trend/remainder decomposition of the last `lookback`
    rows and one linear map lookback -> horizon for each part; their sum is the forecast.
    `lookback="auto"` is 14 seasons (336 rows hourly, the paper's setting; 98 daily), fewer
    on short series (see `LookbackForecaster`).

    Channels are independent: the same two maps forecast every column (`individual=True`
    gives each column its own pair, as in the paper's "individual" variant). `kernel` is the
    moving-average width (25 in the paper), with the window's first and last values repeated
    to pad its ends.

    By default each channel's input window loses its mean before the decomposition and the
    forecast gets it back (`normalize="mean"`), so forecasts follow levels the training rows
    never reached; `normalize="none"` is the paper's DLinear. Why: fitted on a winter and a
    spring of hourly temperature, the paper's maps keep about 70% of a window's level and
    revert the rest to the training mean, which a summer far above it turns into large
    errors (docs/baselines.md). The price: on validation tails next to the training rows,
    where the level stays in range, "none" is often a few percent lower, and on the WTH
    weather grid's test windows by 1-2% (`experiments/dlinear_normalize.py`; the numbers are
    in CHANGELOG.md).

    Training follows the paper: Adam at `lr`, batch 32, the learning rate multiplied by
    `lr_decay` (halved) after every epoch. A validation tail of `val_size` rows (a fraction or
    a count; 0 disables it), or `validation_data` passed to `fit`, drives early stopping on the
    mean squared error of forecasts whose origins lie in it; the best epoch's weights are kept.
    Covariates (`past_covariates`, `future_covariates`, `calendar`, `holidays`) enter
    linearly: a map from the (lookback x K) covariate window (past covariates and the history
    of the future-known ones) and the (horizon x F) future-known covariates of the horizon to
    the horizon, added to the forecast (a linear ARX model). Channels stay independent: every
    channel reads the same covariates, through the same map unless `individual=True`, which
    gives each column its own covariate map too (use it when the columns respond to the
    covariates differently).

    Histories shorter than `lookback` rows are rejected with a ValueError naming the minimum.
    """

    PARAMS = (
        HORIZON,
        LOOKBACK.but(doc=LOOKBACK.doc + " The paper reads 336 rows at every horizon."),
        Param("kernel", 25, [positive_int()],
              "Width of the moving average that splits trend from remainder (25 in the "
              "paper). Widen it for smoother trends on fine-grained data."),
        Param("individual", False, ["boolean"],
              "Give each column its own pair of linear maps (the paper's \"individual\" "
              "variant) instead of one pair for all. Try it when the columns behave "
              "differently and the series are long."),
        Param("normalize", "mean", [Choices(*NORMALIZE)],
              "What each channel's input window loses before the maps and gets back in the "
              "forecast: \"mean\" (its mean), \"last\" (its last value, NLinear's "
              "subtract-last), \"revin\" (its mean and standard deviation, RevIN without "
              "the affine map) or \"none\" (the paper's DLinear, whose maps see the level "
              "itself and pull forecasts towards the training rows' mean). Taking the level "
              "out lets forecasts follow levels that the training rows never reached; "
              "\"none\" can be better on long stationary series. Models saved before this "
              "parameter existed load with \"none\".",
              saved_before="none"),
        WINDOW_STEP,
        LR.but(default=0.005, doc="Learning rate of Adam at the first epoch (the paper's "
               "0.005); lower it when the training loss jumps."),
        Param("lr_decay", 0.5, [Range(Real, 0, 1, closed="right")],
              "Factor applied to the learning rate after every epoch (0.5 halves it, as in "
              "the paper); 1 keeps it constant."),
        WEIGHT_DECAY.but(default=0.0),
        BATCH_SIZE,
        MAX_EPOCHS,
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
        kernel: int = 25,
        individual: bool = False,
        normalize: str = "mean",
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
        self.kernel = kernel
        self.individual = individual
        self.normalize = normalize
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
        self.past_covariates = past_covariates
        self.future_covariates = future_covariates
        self.calendar = calendar
        self.holidays = holidays
        self.time_col = time_col
        self.id_col = id_col
        self.accelerator = accelerator
        self.trainer_kwargs = trainer_kwargs
        self.verbose = verbose

    val_batch_size = 256

    # ---- the model ----------------------------------------------------------------------
    def _build_net(self, n_channels: int) -> DLinearNet:
        k, f = self._covariate_dims()
        return DLinearNet(self.lookback_, self.horizon, self.kernel, n_channels,
                          bool(self.individual), n_covariates=k, n_future=f,
                          normalize=self.normalize)

    def _build_module(self, net: DLinearNet) -> DLinearModule:
        return DLinearModule(net, float(self.lr), float(self.weight_decay), float(self.lr_decay))

    def _forward(self, windows: torch.Tensor,
                 covariates: Covariates | None = None) -> torch.Tensor:
        return self.net_(windows, covariates)
