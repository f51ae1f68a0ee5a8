"""Data-parallel fits (Lightning DDP) on two CPU processes over gloo, through trainer_kwargs.

The fork-based start keeps these quick (the children need not import anything); the
spawn-based one re-imports torch in each child and is marked slow.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import lightning as L
import numpy as np
import pandas as pd
import pytest
import torch
from lightning.pytorch.callbacks import Callback

from txl_ts import TXLForecaster
from txl_ts.baselines import DLinearForecaster, LSTMForecaster
from txl_ts.distributed import ShardSampler, launch_in_process
from txl_ts.training import masked_mse
from txl_ts.txl.batches import ValidationSeries
from txl_ts.txl.module import TXLModule

TINY = dict(horizon=6, d_model=16, n_layers=1, n_heads=2, batch_size=8, random_state=0)


def ddp(strategy: str = "ddp_fork", **extra) -> dict:
    return {"accelerator": "cpu", "devices": 2, "strategy": strategy,
            "enable_progress_bar": False, **extra}


def walk(n: int = 600, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    idx = pd.date_range("2020-01-01", periods=n, freq="h")
    return pd.DataFrame({"a": rng.standard_normal(n).cumsum()}, index=idx)


class Record(Callback):
    """Per rank, into `folder`: the training windows seen each epoch (content hashes), each
    validation epoch's logged loss beside this rank's shard MSE and target count computed
    from the one-process forecasts of every origin, and the final parameters' sums."""

    def __init__(self, folder: str):
        self.folder = folder
        self.seen: dict[int, list[str]] = {}
        self.shards: list[dict] = []

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
        hashes = [hashlib.sha1(w.numpy().tobytes()).hexdigest() for w in batch]
        self.seen.setdefault(trainer.current_epoch, []).extend(hashes)

    def on_validation_epoch_end(self, trainer, pl_module):
        # independently of the shard path: forecasts from every origin in one pass, then
        # this rank's contiguous part of them
        values = trainer.val_dataloaders.dataset.values[0]
        with torch.no_grad():
            forecasts, targets = pl_module._validation_forecasts(values, pl_module.val_start)
        rank, world = trainer.global_rank, trainer.world_size
        rows = np.array_split(np.arange(len(forecasts)), world)[rank]
        self.shards.append({
            "mse": float(masked_mse(forecasts[rows], targets[rows])),
            "count": int(torch.isfinite(targets[rows]).sum()),
            "whole": float(masked_mse(forecasts, targets))})

    def on_validation_end(self, trainer, pl_module):
        self.shards[-1]["logged"] = float(trainer.callback_metrics["val_loss"])

    def on_train_end(self, trainer, pl_module):
        out = {"seen": self.seen, "shards": self.shards,
               "params": [float(p.detach().double().sum()) for p in pl_module.parameters()]}
        Path(self.folder, f"rank{trainer.global_rank}.json").write_text(json.dumps(out))


def test_txl_ddp_fit_shards_and_reduces(tmp_path):
    df = walk()
    m = TXLForecaster(max_epochs=2, patience=5,
                      trainer_kwargs=ddp(callbacks=[Record(str(tmp_path))]), **TINY)
    m.fit(df)
    fc = m.predict()
    assert fc.shape == (6, 1) and np.isfinite(fc.to_numpy()).all()
    r0, r1 = (json.loads((tmp_path / f"rank{r}.json").read_text()) for r in (0, 1))
    # the ranks stepped in agreement: DDP kept their weights identical
    assert r0["params"] == r1["params"]
    # disjoint training shards of equal size, together every window but the remainder
    for epoch in r0["seen"]:
        a, b = r0["seen"][epoch], r1["seen"][epoch]
        assert len(a) == len(b) and not set(a) & set(b)
        assert len(set(a)) == len(a)
    # the logged loss is the count-weighted mean of the two shards' MSEs, the same on both
    # ranks, and the one-process validation loss of the same weights up to rounding
    for s0, s1 in zip(r0["shards"], r1["shards"]):
        mean = (s0["mse"] * s0["count"] + s1["mse"] * s1["count"]) / (s0["count"] + s1["count"])
        assert s0["count"] > 0 and s1["count"] > 0
        assert s0["logged"] == s1["logged"]
        assert s0["logged"] == pytest.approx(mean, rel=1e-5)
        assert s0["logged"] == pytest.approx(s0["whole"], rel=1e-5)
    best = m.fit_summary_["best_val_loss"]
    logged = [s["logged"] for s in r0["shards"]] + [m.fit_summary_["start_val_loss"]]
    assert min(logged) == pytest.approx(best, rel=1e-6)
    assert m.fit_summary_["epochs"] == 2


def test_lstm_ddp_fit_predicts_finite():
    m = LSTMForecaster(horizon=6, lookback=24, hidden_size=8, max_epochs=1, random_state=0,
                       trainer_kwargs=ddp())
    m.fit(walk(400))
    assert np.isfinite(m.predict().to_numpy()).all()
    assert np.isfinite(m.fit_summary_["best_val_loss"])


@pytest.mark.filterwarnings("ignore::txl_ts.training.TrainingWarning")  # one short epoch
def test_dlinear_plain_ddp_runs_in_process():
    """strategy="ddp" would start rank 1 by running the caller's script again: it is run
    with the fork-based start instead, and the model comes back to this process."""
    m = DLinearForecaster(horizon=6, lookback=24, max_epochs=1, random_state=0,
                          trainer_kwargs=ddp("ddp"))
    m.fit(walk(400))
    assert np.isfinite(m.predict().to_numpy()).all()


def test_plain_ddp_becomes_fork_without_a_launcher():
    kwargs = {"accelerator": "cpu", "devices": 2, "strategy": "ddp", "logger": False}
    trainer = L.Trainer(**kwargs)
    assert launch_in_process(kwargs, trainer)["strategy"] == "ddp_fork"
    spawn = {**kwargs, "strategy": "ddp_spawn"}
    assert launch_in_process(spawn, L.Trainer(**spawn)) is spawn


def test_shard_sampler_without_a_group_is_everything():
    train = ShardSampler(10, shuffle=True, seed=3)
    assert sorted(train) == list(range(10)) and len(train) == 10
    assert list(ShardSampler(5, shuffle=False)) == list(range(5))


def test_sharded_validation_matches_one_process():
    """The weighted parts of every series average to the one-process validation loss."""
    idx = pd.date_range("2020-01-01", periods=400, freq="h")
    rng = np.random.default_rng(1)
    df = pd.DataFrame({"a": rng.standard_normal(400).cumsum(),
                       "b": rng.standard_normal(400).cumsum()}, index=idx)
    m = TXLForecaster(max_epochs=1, trainer_kwargs={"enable_progress_bar": False}, **TINY)
    m.fit(df)
    config = m.net_.config
    module = TXLModule(m.net_.float(), m.grid_, segment_len=config.segment_len,
                       mem_len=config.mem_len, burn_in=m.burn_in_, stateful=False,
                       val_start=320, lr=1e-3, weight_decay=0.0)
    raw = df.to_numpy()
    values = torch.as_tensor((raw - raw[:320].mean(0)) / raw[:320].std(0),
                             dtype=torch.float32).T
    whole = ValidationSeries([values], indexed=False)
    collate = torch.utils.data.default_collate
    with torch.no_grad():
        one = float(module.validation_loss(collate([whole[0]])))
        for parts in (2, 3):
            shards = whole.shard(parts)
            results = [module.validation_shard(collate([shards[i]])) for i in range(len(shards))]
            total = sum(float(loss) * float(w) for loss, w in results)
            weight = sum(float(w) for _, w in results)
            assert weight == pytest.approx(1.0)
            assert total / weight == pytest.approx(one, rel=1e-5)
        # more parts than origins: the last ones score nothing and weigh nothing
        n = len(module._validation_origins(values.shape[1], 320))
        loss, weight = module.validation_shard(collate([whole.shard(n + 1)[n]]))
        assert float(loss) == 0.0 and float(weight) == 0.0


@pytest.mark.slow
def test_txl_ddp_spawn_brings_the_model_back():
    m = TXLForecaster(max_epochs=1, trainer_kwargs=ddp("ddp_spawn"), **TINY)
    m.fit(walk())
    assert np.isfinite(m.predict().to_numpy()).all()
    assert m.fit_summary_["epochs"] == 1 and np.isfinite(m.fit_summary_["best_val_loss"])


def test_global_txl_ddp_fit_over_many_series():
    """A long frame: the windows of every series (a ConcatDataset) are shared out, and
    the per-series validation parts are weighted back to the mean over the series."""
    frames = [walk(400, seed).rename_axis("ds").reset_index().assign(unique_id=f"s{seed}")
              for seed in range(3)]
    df = pd.concat(frames, ignore_index=True)
    m = TXLForecaster(max_epochs=1, id_col="unique_id", time_col="ds", targets=["a"],
                      trainer_kwargs=ddp(), **TINY)
    m.fit(df)
    fc = m.predict()
    assert np.isfinite(fc["a"].to_numpy()).all() and fc["unique_id"].nunique() == 3
    assert m.fit_summary_["n_series"] == 3 and np.isfinite(m.fit_summary_["best_val_loss"])
