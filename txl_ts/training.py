"""Training machinery shared by the neural forecasters: the Lightning Trainer set-up,
the base LightningModule (AdamW, masked MSE, divergence check) and sliding windows.
"""

from __future__ import annotations

import logging
import math
import sys
import tempfile
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import lightning as L
import numpy as np
import torch
from lightning.pytorch.callbacks import (
    Callback,
    EarlyStopping,
    ModelCheckpoint,
    TQDMProgressBar,
    WeightAveraging,
)
from torch.utils.data import Dataset

from .distributed import RunFacts, launch_in_process, read_facts, shard_loaders, world_size


class TrainingDivergedError(FloatingPointError, ValueError):
    """Training went off the rails: a NaN or infinite loss, or a model far worse than naive.

    Also a ValueError, so that callers catching bad-input errors catch it too.
    """


# A fitted model whose validation MSE (scaled units) exceeds the repeat-last forecast's by this
# factor, plus DIVERGED_FLOOR, is rejected: an under-trained but sane network on a random walk
# is at most tens of times worse than naive, a diverged one (lr=1e6) millions of times.
DIVERGED_RATIO = 1e3
DIVERGED_FLOOR = 1.0
# Beyond this factor (plus WARN_FLOOR) the model is kept, with a warning.
WARN_RATIO = 10.0
WARN_FLOOR = 0.1


class TrainingWarning(UserWarning):
    """Training finished, but the model forecasts much worse than the naive forecast."""


def masked_mse(forecast: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean squared error over the finite entries of `target` (NaN marks "not available")."""
    mask = torch.isfinite(target)
    if not mask.any():
        return forecast.sum() * 0.0
    diff = torch.where(mask, forecast - torch.nan_to_num(target), torch.zeros_like(forecast))
    return diff.pow(2).sum() / mask.sum()


class ForecastModule(L.LightningModule):
    """Optimiser, gradient clipping and the NaN guard; subclasses implement `loss(batch)`.

    Optimisation is manual so that a subclass can back-propagate piece by piece
    (`backward_loss`): Transformer-XL's detached memory lets each segment's graph be freed
    right after its backward, which keeps training memory flat in the number of segments.
    """

    def __init__(self, lr: float, weight_decay: float, grad_clip: float | None = 1.0):
        super().__init__()
        self.lr, self.weight_decay, self.grad_clip = lr, weight_decay, grad_clip
        self.automatic_optimization = False
        self._val_sums: torch.Tensor | None = None  # several processes: see validation_step

    def loss(self, batch: Any) -> torch.Tensor:
        raise NotImplementedError

    def backward_loss(self, batch: Any) -> torch.Tensor:
        """Back-propagate the training loss of `batch`; return it detached."""
        loss = self.loss(batch)
        self.manual_backward(loss)
        return loss.detach()

    def training_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
        optimizer = self.optimizers()
        optimizer.zero_grad()
        loss = self.backward_loss(batch)
        if not torch.isfinite(loss):
            raise TrainingDivergedError(
                f"training loss became {loss.item()} at epoch {self.current_epoch}, step "
                f"{batch_idx}; lower lr, check the data scale, or raise weight decay"
            )
        if self.grad_clip:
            self.clip_gradients(optimizer, gradient_clip_val=self.grad_clip,
                                gradient_clip_algorithm="norm")
        optimizer.step()
        self.log("train_loss", loss, prog_bar=True, on_step=False, on_epoch=True,
                 batch_size=_batch_size(batch), sync_dist=self._distributed())
        return loss

    def _distributed(self) -> bool:
        """Whether this module trains in one of several processes (DDP)."""
        return self._trainer is not None and self.trainer.world_size > 1

    def validation_step(self, batch: Any, batch_idx: int) -> None:
        if not self._distributed():
            self.log("val_loss", self.validation_loss(batch), prog_bar=True, batch_size=1)
            return
        # several processes: sum loss x weight and the weights here, reduce at epoch end
        loss, weight = self.validation_shard(batch)
        weight = torch.as_tensor(weight, dtype=torch.float64, device=loss.device)
        part = torch.stack([loss.detach().double() * weight, weight])
        self._val_sums = part if self._val_sums is None else self._val_sums + part

    def on_validation_epoch_start(self) -> None:
        self._val_sums = None

    def on_validation_epoch_end(self) -> None:
        """With several processes: log the weighted mean of every process's validation
        items, all-reduced, so early stopping and checkpointing agree on every rank."""
        if not self._distributed():
            return
        sums = self._val_sums
        if sums is None:
            sums = torch.zeros(2, dtype=torch.float64, device=self.device)
        sums = self.trainer.strategy.reduce(sums, reduce_op="sum")
        # identical on every rank already; sync_dist only averages equal numbers
        self.log("val_loss", (sums[0] / sums[1]).float(), prog_bar=True, batch_size=1,
                 sync_dist=True)

    def validation_loss(self, batch: Any) -> torch.Tensor:
        return self.loss(batch)

    def validation_shard(self, batch: Any) -> tuple[torch.Tensor, torch.Tensor | float]:
        """The validation loss of one item of a sharded validation set and its weight: the
        logged loss is the weighted mean over all processes' items. By default the weight
        is the batch size; subclasses weigh by the targets scored."""
        return self.validation_loss(batch), float(_batch_size(batch))

    def configure_optimizers(self):
        return torch.optim.AdamW(self.parameters(), lr=self.lr, weight_decay=self.weight_decay)


def validation_rows(val_size: float | int, n_rows: int, at_least: int = 1) -> int:
    """Rows of the time-ordered validation tail: `val_size` is a fraction in (0, 1) of
    `n_rows` or a row count; 0 disables validation. A non-empty tail has `at_least` rows."""
    v = val_size
    if isinstance(v, bool) or not isinstance(v, (int, float, np.integer, np.floating)):
        raise ValueError(f"val_size must be a fraction in [0, 1) or a row count, got {v!r}")
    if isinstance(v, (float, np.floating)) and not float(v).is_integer():
        if not 0.0 < v < 1.0:
            raise ValueError(f"val_size must be a fraction in [0, 1) or a row count, got {v}")
        n = int(round(v * n_rows))
    else:
        if v < 0:
            raise ValueError(f"val_size must be non-negative, got {v}")
        n = int(v)
    return 0 if n == 0 else max(n, at_least)


def min_fit_rows(need: int, what: str, val_size: float | int,
                 at_least: int = 1) -> tuple[int, str]:
    """The shortest fit frame that leaves `need` training rows beside the validation tail."""
    total = need
    while total - validation_rows(val_size, total, at_least) < need:
        total += 1
    n_val = total - need
    return total, f"{what} = {need} rows to train on" + (
        f", plus {n_val} to validate (val_size={val_size})" if n_val else "")


def naive_mse(values: np.ndarray, start: int, horizon: int) -> float:
    """MSE of the repeat-last forecast from every origin in rows [start - 1, T - 2] of the
    (T, C) scaled series, over the targets inside the series (the validation loss's scale)."""
    total, count = 0.0, 0
    origin = max(start - 1, 0)
    for h in range(1, horizon + 1):
        if origin + h >= len(values):
            break
        err = values[origin + h :] - values[origin : len(values) - h]
        total += float(np.square(err).sum())
        count += err.size
    return total / count if count else float("nan")


def check_fit_outcome(summary: dict[str, Any], values: np.ndarray | None, horizon: int,
                      naive: float | None = None) -> None:
    """Compare the trained model's loss with the repeat-last forecast's on the same rows.

    `summary` is `fit_module`'s (plus `n_train_rows`); `values` the (T, C) scaled training and
    validation rows. The validation loss is used when there was validation, the last epoch's
    training loss otherwise. `naive`: the repeat-last MSE where the caller computed it (the
    mean over the series of a long frame). Raises TrainingDivergedError, or warns
    (TrainingWarning).
    """
    best = summary.get("best_val_loss")
    if best is not None:
        loss, start, what = best, int(summary.get("n_train_rows", 0)), "validation"
    else:
        loss, start, what = summary.get("train_loss"), 0, "training"
        if values is not None:
            values = values[: int(summary.get("n_train_rows", len(values)))]
    if loss is None:
        return
    if not math.isfinite(loss):
        raise TrainingDivergedError(f"the best {what} loss is {loss}; training diverged: "
                                    "lower lr or check the data")
    if naive is None:
        naive = naive_mse(values, start, horizon)
    if not math.isfinite(naive):
        return
    ratio_text = (f"the {what} MSE {loss:.4g} (scaled units) against {naive:.4g} for "
                  "repeating the last value")
    if loss > DIVERGED_RATIO * naive + DIVERGED_FLOOR:
        raise TrainingDivergedError(
            f"training diverged: {ratio_text}; lower lr, raise weight_decay or check the data")
    if loss > WARN_RATIO * naive + WARN_FLOOR:
        warnings.warn(f"the model forecasts much worse than naive: {ratio_text}; train longer "
                      "or tune lr", TrainingWarning, stacklevel=4)


def _batch_size(batch: Any) -> int:
    first = batch[0] if isinstance(batch, (tuple, list)) else batch
    return int(first.shape[0])


class Windows(Dataset):
    """Every window of `length` rows starting at a multiple of `step`, of a (C, T) series.

    Rows at or past `end` read as NaN so targets never reach beyond the training data.
    """

    def __init__(self, values: torch.Tensor, length: int, step: int, n_starts: int, end: int):
        self.values, self.length, self.step, self.n_starts = values, length, step, n_starts
        self.end = end

    def __len__(self) -> int:
        return self.n_starts

    def __getitem__(self, i: int) -> torch.Tensor:
        start = i * self.step
        window = self.values[:, start : start + self.length]
        pad = self.length - window.shape[1]
        if pad > 0:
            window = torch.cat([window, window.new_full((window.shape[0], pad), float("nan"))], 1)
        cut = self.end - start
        if cut < self.length:
            window = window.clone()
            window[:, max(cut, 0):] = float("nan")
        return window  # (C, length)


def resolve_device(accelerator: str) -> torch.device:
    """The device that inference runs on after training with `accelerator`."""
    if accelerator in ("auto", "gpu", "cuda") and torch.cuda.is_available():
        return torch.device("cuda")
    if accelerator == "mps" and torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def training_output(verbose: bool | None) -> str:
    """What training prints: "bar" (one tqdm bar), "lines" (one line per epoch) or "none".

    `verbose=None` follows the terminal: a bar when stdout is a TTY, nothing otherwise (a
    script's output or a log file stays clean). `verbose=True` shows a bar on a TTY and one
    line per epoch on stderr otherwise; `verbose=False` prints nothing.

    Parameters
    ----------
    verbose : bool or None
        The estimator's `verbose` parameter.

    Returns
    -------
    str
        "bar", "lines" or "none".
    """
    tty = bool(getattr(sys.stdout, "isatty", lambda: False)())
    if verbose is None:
        return "bar" if tty else "none"
    if not verbose:
        return "none"
    return "bar" if tty else "lines"


class OneBar(TQDMProgressBar):
    """Lightning's progress bar without its nested validation bars: one bar per fit."""

    def init_validation_tqdm(self):
        bar = super().init_validation_tqdm()
        bar.disable = True
        return bar

    def init_sanity_tqdm(self):
        bar = super().init_sanity_tqdm()
        bar.disable = True
        return bar


class EpochLines(Callback):
    """One line per training epoch on stderr (for logs, where a progress bar is noise)."""

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        metrics = " ".join(f"{k}={float(v):.4g}" for k, v in
                           sorted(trainer.callback_metrics.items()) if k.endswith("loss"))
        print(f"epoch {trainer.current_epoch + 1}/{trainer.max_epochs} {metrics}".rstrip(),
              file=sys.stderr, flush=True)


def check_accelerator_available(accelerator: str) -> None:
    """Raise a clear ValueError when `accelerator` asks for a GPU this machine lacks.

    Called when training starts (not at load: a model trained on a GPU still loads and
    forecasts on a CPU, see `resolve_device`). There is no silent fall-back to the CPU: a run
    meant for a GPU could take hours there, so the user decides (`accelerator="auto"` takes
    a GPU when there is one and the CPU otherwise).

    Parameters
    ----------
    accelerator : str
        The estimator's `accelerator`.

    Raises
    ------
    ValueError
        For "gpu" or "cuda" without a CUDA device, or "mps" without Apple's MPS.
    """
    name = accelerator.lower() if isinstance(accelerator, str) else accelerator
    if name in ("gpu", "cuda") and not torch.cuda.is_available():
        raise ValueError(f"accelerator={accelerator!r} asks for a GPU, but no GPU is available "
                         "on this machine (torch.cuda.is_available() is False); use "
                         "accelerator='auto' or 'cpu'")
    if name == "mps" and not torch.backends.mps.is_available():
        raise ValueError(f"accelerator={accelerator!r} asks for Apple's MPS GPU, but it is not "
                         "available on this machine; use accelerator='auto' or 'cpu'")


@contextmanager
def quiet_lightning() -> Iterator[None]:
    """Silence Lightning's chatter that says nothing about the user's model."""
    loggers = [logging.getLogger(n) for n in ("lightning.pytorch.utilities.rank_zero",
                                              "lightning.pytorch.accelerators.cuda",
                                              "lightning.fabric.utilities.seed",
                                              # DDP's start-up banners (forked ranks inherit
                                              # these levels; spawned ones do not)
                                              "lightning.fabric.utilities.distributed",
                                              "lightning.fabric.utilities.rank_zero")]
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.WARNING)
    with warnings.catch_warnings():
        for pattern in (".*does not have many workers.*", ".*GPU available.*",
                        ".*LeafSpec.*", ".*no `val_dataloader`.*",
                        ".*number of training batches.*", ".*TPU available.*",
                        ".*`isinstance\\(treespec, LeafSpec\\)`.*"):
            warnings.filterwarnings("ignore", message=pattern)
        try:
            yield
        finally:
            for lg, level in zip(loggers, levels):
                lg.setLevel(level)


def fit_module(
    module: ForecastModule,
    train_loader: torch.utils.data.DataLoader,
    val_loader: torch.utils.data.DataLoader | None,
    *,
    max_epochs: int,
    patience: int,
    accelerator: str,
    random_state: int | None,
    trainer_kwargs: dict[str, Any] | None,
    keep_start: bool = False,
    verbose: bool | None = None,
) -> dict[str, Any]:
    """Train with Lightning: early stopping and best-weights restore when there is validation.

    With `keep_start` (a model with a meaningful warm start) and validation, the untrained
    model is validated first and kept when no epoch beats it, so training can never leave the
    model worse on validation than where it started.

    Returns a summary: epochs run, best validation loss, last training loss, whether training
    stopped early and, with `keep_start`, the start's validation loss and whether it was kept.
    `verbose` chooses the output (`training_output`); Lightning's banners, model summary and
    logger stay off either way, unless `trainer_kwargs` asks for them.
    Raises ValueError when `accelerator` asks for a GPU that is not there
    (`check_accelerator_available`), when the loader yields no training batch (the caller's
    minimum length should prevent that) and TrainingDivergedError when the best validation
    loss is not finite.
    """
    check_accelerator_available(accelerator)
    if len(train_loader) == 0:
        raise ValueError("training would run zero steps: the training rows make no training "
                         "window; give a longer series (see the estimator's minimum length)")
    if random_state is not None:
        L.seed_everything(random_state, workers=True, verbose=False)
    limit = (trainer_kwargs or {}).get("limit_val_batches")
    if limit is not None and not isinstance(limit, bool) and limit == 0:
        val_loader = None  # validation switched off: no early stopping on a metric never logged
    kwargs: dict[str, Any] = dict(
        max_epochs=max_epochs,
        accelerator=accelerator,
        devices=1,
        logger=False,
        enable_model_summary=False,
        num_sanity_val_steps=0,
        enable_checkpointing=val_loader is not None,
    )
    output = training_output(verbose)
    kwargs["enable_progress_bar"] = output == "bar"
    extra_callbacks: list[Callback] = ([OneBar()] if output == "bar" else
                                       [EpochLines()] if output == "lines" else [])
    if resolve_device(accelerator).type == "cuda":
        kwargs["precision"] = "bf16-mixed"
    kwargs.update(trainer_kwargs or {})
    if "gradient_clip_val" in kwargs:  # clipping is the module's job under manual optimisation
        module.grad_clip = kwargs.pop("gradient_clip_val")
    with tempfile.TemporaryDirectory(prefix="txl_ts_") as tmp:
        kwargs.setdefault("default_root_dir", tmp)
        callbacks = list(kwargs.pop("callbacks", []) or [])
        if output == "bar" and (not kwargs["enable_progress_bar"] or any(
                isinstance(c, TQDMProgressBar) for c in callbacks)):
            extra_callbacks = []  # trainer_kwargs switched the bar off, or brings its own
        callbacks += extra_callbacks
        checkpoint = None
        if val_loader is not None:
            callbacks.append(EarlyStopping(monitor="val_loss", patience=patience, mode="min"))
            if kwargs["enable_checkpointing"]:
                # a weight-averaging callback validates its averaged weights and writes them
                # into the checkpoint in its on_save_checkpoint hook, which Lightning skips for
                # weights-only checkpoints: those would restore the raw weights instead
                averaging = any(isinstance(c, WeightAveraging) for c in callbacks)
                checkpoint = ModelCheckpoint(dirpath=tmp, monitor="val_loss", mode="min",
                                             save_top_k=1, save_weights_only=not averaging)
                callbacks.append(checkpoint)
        start = None
        with quiet_lightning():
            trainer = L.Trainer(callbacks=callbacks, **kwargs)
            world = world_size(trainer)
            loaders = (train_loader, val_loader)
            one_process = kwargs
            if world > 1:  # data-parallel: see txl_ts.distributed
                relaunch = launch_in_process(kwargs, trainer)
                if relaunch is not kwargs:
                    trainer = L.Trainer(callbacks=callbacks, **relaunch)
                trainer.callbacks.append(RunFacts())
                loaders = shard_loaders(train_loader, val_loader, world,
                                            seed=random_state or 0)
                one_process = {**kwargs, "devices": 1, "num_nodes": 1, "strategy": "auto"}
            if keep_start and val_loader is not None:
                # the start is validated here, in one process: it needs no shards
                start_state = {k: v.detach().clone() for k, v in module.state_dict().items()}
                start_loss = float(L.Trainer(**{**one_process, "enable_checkpointing": False,
                                                 "enable_progress_bar": False})
                                   .validate(module, val_loader, verbose=False)[0]["val_loss"])
                start = (start_loss, start_state)
            trainer.fit(module, *loaders)
        # a spawned or forked fit leaves its counters and best score in its own processes
        facts = read_facts(trainer) if world > 1 else None
        best = None
        if checkpoint is not None and checkpoint.best_model_path:
            state = torch.load(checkpoint.best_model_path, map_location="cpu", weights_only=True)
            module.load_state_dict(state["state_dict"])
            score = checkpoint.best_model_score
            best = float(score) if score is not None else (facts or {}).get("best_score")
            if world > 1:  # under torchrun: rank 0 keeps its checkpoint until all have read it
                trainer.strategy.barrier("txl_ts_best_loaded")
        elif checkpoint is not None and "val_loss" in trainer.callback_metrics:
            best = float(trainer.callback_metrics["val_loss"])  # validated, never saved
        # the start wins ties, and against a NaN best
        kept_start = (start is not None and math.isfinite(start[0])
                      and (best is None or not best < start[0]))
        if kept_start:
            module.load_state_dict(start[1])
            best = start[0]
    module.cpu()
    if facts is None:
        facts = {"global_step": trainer.global_step, "current_epoch": trainer.current_epoch,
                 "should_stop": trainer.should_stop}
    if facts["global_step"] == 0:
        raise ValueError("training ran zero optimiser steps: give a longer series, or check "
                         "trainer_kwargs such as limit_train_batches or max_steps")
    if best is not None and not math.isfinite(best):
        raise TrainingDivergedError(f"the best validation loss is {best}: training diverged or "
                                    "the validation data is unusable")
    train_loss = trainer.callback_metrics.get("train_loss")
    summary = {
        "epochs": int(facts["current_epoch"]),
        "best_val_loss": best,
        "train_loss": None if train_loss is None else float(train_loss),
        "stopped_early": bool(facts["should_stop"] and facts["current_epoch"] < max_epochs),
    }
    if start is not None:
        summary.update(start_val_loss=start[0], kept_start=kept_start)
    return summary
