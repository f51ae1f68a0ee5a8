"""The shared training loop: keeping a warm start that training cannot beat on validation."""

from __future__ import annotations

import pytest
import torch
from tolerance import assert_close
from torch.utils.data import DataLoader, TensorDataset

from txl_ts.training import ForecastModule, fit_module


class Slope(ForecastModule):
    """y = w x with one parameter; batches are (x, y) pairs."""

    def __init__(self, w: float, lr: float):
        super().__init__(lr, 0.0)
        self.w = torch.nn.Parameter(torch.tensor(w))

    def loss(self, batch):
        x, y = batch
        return (self.w * x - y).pow(2).mean()


def _loaders(train_slope: float, val_slope: float) -> tuple[DataLoader, DataLoader]:
    x = torch.linspace(-1, 1, 64)
    train = DataLoader(TensorDataset(x, train_slope * x), batch_size=16)
    val = DataLoader(TensorDataset(x, val_slope * x), batch_size=64)
    return train, val


def _fit(module: Slope, train: DataLoader, val: DataLoader, keep_start: bool) -> dict:
    return fit_module(module, train, val, max_epochs=3, patience=3, accelerator="cpu",
                      random_state=0, trainer_kwargs={"enable_progress_bar": False},
                      keep_start=keep_start)


@pytest.mark.parametrize("keep_start", [True, False])
def test_a_warm_start_that_training_cannot_beat_on_validation_is_kept(keep_start):
    # training data pull w towards 3, validation says 2 is right, and w starts at 2
    train, val = _loaders(3.0, 2.0)
    module = Slope(2.0, lr=0.3)
    summary = _fit(module, train, val, keep_start)
    if keep_start:
        # w x - y is exact at w = 2 (both sides are 2 x), so the start scores exactly 0
        assert summary["kept_start"] and summary["start_val_loss"] == 0.0
        assert module.w.item() == 2.0
        assert summary["best_val_loss"] == summary["start_val_loss"]
    else:
        assert "kept_start" not in summary
        assert module.w.item() != 2.0 and summary["best_val_loss"] > 0.01


def test_training_that_beats_the_start_is_kept():
    train, val = _loaders(2.0, 2.0)
    module = Slope(0.0, lr=0.3)
    summary = _fit(module, train, val, keep_start=True)
    assert not summary["kept_start"]
    assert summary["best_val_loss"] < summary["start_val_loss"]
    assert module.w.item() != 0.0


@pytest.mark.parametrize("limit", [0, 0.0])
def test_validation_switched_off_by_the_user_trains_without_early_stopping(limit):
    # Lightning's EarlyStopping used to fail on a val_loss that was never logged
    train, val = _loaders(2.0, 2.0)
    module = Slope(0.0, lr=0.3)
    summary = fit_module(module, train, val, max_epochs=2, patience=1, accelerator="cpu",
                         random_state=0, keep_start=True,
                         trainer_kwargs={"enable_progress_bar": False, "limit_val_batches": limit})
    assert summary["epochs"] == 2 and summary["best_val_loss"] is None
    assert not summary["stopped_early"] and "kept_start" not in summary
    assert module.w.item() != 0.0


@pytest.mark.parametrize("loss, expected", [
    ("mse", 0.25 + 9.0), ("mae", 0.5 + 3.0), ("huber", 0.5 * 0.25 + (3.0 - 0.5)),
])
def test_txl_training_losses_sum_the_errors_and_skip_missing_targets(loss, expected):
    from types import SimpleNamespace

    from txl_ts.txl.module import TXLModule

    forecast = torch.tensor([1.0, 2.0, 5.0])
    target = torch.tensor([1.5, float("nan"), 2.0])  # errors 0.5, (missing), 3
    module = SimpleNamespace(loss_name=loss)
    assert_close(TXLModule._error(module, forecast, target), expected, torch.float32)


@pytest.mark.parametrize("averaging", [False, True])
def test_the_restored_model_scores_the_reported_best_validation_loss(averaging):
    """Early stopping restores the weights that scored `best_val_loss`. With a weight-averaging
    callback in `trainer_kwargs` those are the averaged weights it validated, not the raw ones
    (a weights-only checkpoint skips the callback's hook and would save the raw weights)."""
    from lightning.pytorch.callbacks import EMAWeightAveraging

    train, val = _loaders(2.0, 2.0)
    module = Slope(0.0, lr=0.3)
    callbacks = [EMAWeightAveraging(decay=0.7)] if averaging else []
    summary = fit_module(module, train, val, max_epochs=3, patience=3, accelerator="cpu",
                         random_state=0, trainer_kwargs={"enable_progress_bar": False,
                                                         "callbacks": callbacks})
    with torch.no_grad():
        restored = module.loss(next(iter(val))).item()
    assert_close(restored, summary["best_val_loss"], torch.float32)
