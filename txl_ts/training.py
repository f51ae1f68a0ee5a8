"""Training machinery shared by the neural forecasters: the Lightning Trainer set-up,
the base LightningModule (AdamW, masked MSE, divergence check) and sliding windows.
"""

from __future__ import annotations

import logging
import tempfile
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import lightning as L
import torch
from lightning.pytorch.callbacks import EarlyStopping, ModelCheckpoint
from torch.utils.data import Dataset


class TrainingDivergedError(FloatingPointError):
    """The training loss became NaN or infinite."""


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
                 batch_size=_batch_size(batch))
        return loss

    def validation_step(self, batch: Any, batch_idx: int) -> None:
        self.log("val_loss", self.validation_loss(batch), prog_bar=True, batch_size=1)

    def validation_loss(self, batch: Any) -> torch.Tensor:
        return self.loss(batch)

    def configure_optimizers(self):
        return torch.optim.AdamW(self.parameters(), lr=self.lr, weight_decay=self.weight_decay)


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


@contextmanager
def quiet_lightning() -> Iterator[None]:
    """Silence Lightning's chatter that says nothing about the user's model."""
    loggers = [logging.getLogger(n) for n in ("lightning.pytorch.utilities.rank_zero",
                                              "lightning.pytorch.accelerators.cuda",
                                              "lightning.fabric.utilities.seed")]
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
) -> dict[str, Any]:
    """Train with Lightning: early stopping and best-weights restore when there is validation.

    Returns a summary: epochs run, best validation loss, and whether training stopped early.
    """
    if random_state is not None:
        L.seed_everything(random_state, workers=True, verbose=False)
    kwargs: dict[str, Any] = dict(
        max_epochs=max_epochs,
        accelerator=accelerator,
        devices=1,
        logger=False,
        enable_model_summary=False,
        num_sanity_val_steps=0,
        enable_checkpointing=val_loader is not None,
    )
    if resolve_device(accelerator).type == "cuda":
        kwargs["precision"] = "bf16-mixed"
    kwargs.update(trainer_kwargs or {})
    if "gradient_clip_val" in kwargs:  # clipping is the module's job under manual optimisation
        module.grad_clip = kwargs.pop("gradient_clip_val")
    with tempfile.TemporaryDirectory(prefix="txl_ts_") as tmp:
        kwargs.setdefault("default_root_dir", tmp)
        callbacks = list(kwargs.pop("callbacks", []) or [])
        checkpoint = None
        if val_loader is not None:
            callbacks.append(EarlyStopping(monitor="val_loss", patience=patience, mode="min"))
            if kwargs["enable_checkpointing"]:
                checkpoint = ModelCheckpoint(dirpath=tmp, monitor="val_loss", mode="min",
                                             save_top_k=1, save_weights_only=True)
                callbacks.append(checkpoint)
        with quiet_lightning():
            trainer = L.Trainer(callbacks=callbacks, **kwargs)
            trainer.fit(module, train_loader, val_loader)
        best = None
        if checkpoint is not None and checkpoint.best_model_path:
            state = torch.load(checkpoint.best_model_path, map_location="cpu", weights_only=True)
            module.load_state_dict(state["state_dict"])
            best = float(checkpoint.best_model_score)
    module.cpu()
    return {
        "epochs": int(trainer.current_epoch),
        "best_val_loss": best,
        "stopped_early": bool(trainer.should_stop and trainer.current_epoch < max_epochs),
    }
