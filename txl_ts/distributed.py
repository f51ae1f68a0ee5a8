"""Data-parallel training on several processes (Lightning DDP), for `fit_module`.

A fit asks for it through `trainer_kwargs`, e.g. ``{"accelerator": "cpu", "devices": 2,
"strategy": "ddp_spawn"}`` (gloo on CPUs, NCCL on GPUs). Three things differ from one
process, and each is taken care of here:

- Sharding. Every process trains on a disjoint shard of the training windows and validates
  a disjoint shard of the validation items (`ShardSampler`). Lightning's own
  DistributedSampler pads the index list so that every rank gets as many items, which
  repeats items: a repeated validation item biases the validation loss, and a repeated
  training window is seen twice per epoch. The loaders are also rebuilt without the
  `torch.Generator` of a shuffled one-process loader: a generator cannot be sent to a spawned
  process (torch fails with "unable to resize file ... (22)" while sharing it).
- Reduction. The validation loss is reduced over the processes by the module
  (`txl_ts.training.ForecastModule`), so early stopping and the best checkpoint see the same
  number on every rank.
- The way back. With a spawned or forked process group the fit runs in child processes and
  Lightning brings back only the last weights, the best checkpoint's path and the callback
  metrics; `RunFacts` puts the rest (steps, epochs, the best score) into those metrics.

Lightning's plain ``strategy="ddp"`` starts the other ranks by running the caller's script
again; unless the processes were started by a launcher (torchrun, SLURM), `launch_in_process`
replaces it with the fork- or spawn-based start, which runs only the fit in the children.
"""

from __future__ import annotations

import math
import multiprocessing
from collections.abc import Iterator
from typing import Any

import lightning as L
import torch
import torch.distributed as dist
from lightning.pytorch.callbacks import Callback
from lightning.pytorch.strategies.launchers import _SubprocessScriptLauncher
from torch.utils.data import DataLoader, DistributedSampler

# callback-metric keys that carry a child process's training facts back to the caller
FACT_KEYS = {"global_step": "txl_ts/global_step", "current_epoch": "txl_ts/current_epoch",
             "should_stop": "txl_ts/should_stop", "best_score": "txl_ts/best_score"}


def world_size(trainer: L.Trainer) -> int:
    """Processes the trainer trains on (1 without a distributed strategy)."""
    return int(getattr(trainer.strategy, "world_size", 1) or 1)


def launch_in_process(trainer_kwargs: dict[str, Any], trainer: L.Trainer) -> dict[str, Any]:
    """`trainer_kwargs` with a ``"ddp"`` that would re-run the caller's script replaced by
    ``"ddp_fork"`` (``"ddp_spawn"`` where fork is not available); unchanged otherwise.

    Under a launcher (torchrun, SLURM) every process already runs the caller's code and
    Lightning starts nothing, so ``"ddp"`` is kept there.
    """
    if not isinstance(trainer.strategy.launcher, _SubprocessScriptLauncher):
        return trainer_kwargs
    fork = "fork" in multiprocessing.get_all_start_methods()
    return {**trainer_kwargs, "strategy": "ddp_fork" if fork else "ddp_spawn"}


class ShardSampler(DistributedSampler):
    """Indices of this process's shard, read from the process group when iterated.

    The group exists only inside the processes Lightning starts, after the loaders were
    built, so rank and world size are looked up lazily (one process without a group: rank
    0 of 1). Being a DistributedSampler, Lightning leaves it in place.

    Parameters
    ----------
    n_items : int
        The dataset's length.
    shuffle : bool
        Training: a fresh permutation each epoch (`set_epoch`), the same on every rank, cut
        to a multiple of the world size (``drop_last``) so that every rank runs as many
        steps, and dealt out in turn: the shards are disjoint. Validation (False): items
        ``rank, rank + world, ...`` in order, none repeated and none dropped.
    seed : int
        Seed of the permutations.
    """

    def __init__(self, n_items: int, shuffle: bool, seed: int = 0):
        # DistributedSampler.__init__ needs the process group: set its fields ourselves
        self.n_items, self.shuffle, self.seed, self.epoch = n_items, shuffle, seed, 0
        self.drop_last = shuffle

    @property
    def num_replicas(self) -> int:  # type: ignore[override]
        return dist.get_world_size() if dist.is_available() and dist.is_initialized() else 1

    @property
    def rank(self) -> int:  # type: ignore[override]
        return dist.get_rank() if dist.is_available() and dist.is_initialized() else 0

    def _indices(self) -> list[int]:
        world, rank = self.num_replicas, self.rank
        if not self.shuffle:
            return list(range(rank, self.n_items, world))
        generator = torch.Generator().manual_seed(self.seed + self.epoch)
        order = torch.randperm(self.n_items, generator=generator).tolist()
        return order[: self.n_items - self.n_items % world][rank::world]

    def __iter__(self) -> Iterator[int]:
        return iter(self._indices())

    def __len__(self) -> int:
        world, rank = self.num_replicas, self.rank
        if self.shuffle:
            return self.n_items // world
        return max(0, math.ceil((self.n_items - rank) / world))


def shard_loaders(train_loader: DataLoader, val_loader: DataLoader | None, world: int,
                  seed: int) -> tuple[DataLoader, DataLoader | None]:
    """The training and validation loaders of a `world`-process fit, each process reading
    a disjoint shard (`ShardSampler`).

    A validation dataset with a ``shard(n)`` method (TXL's `ValidationSeries`) is first
    split into items that can be shared out; validation items of other datasets (windows)
    already can. Raises ValueError for stateful training (contiguous streams in time order,
    which cannot be split), for fewer training windows than processes, and for fewer
    validation items than processes (a process without any would wait for the others'
    reduction forever).
    """
    if train_loader.batch_size is None:
        raise ValueError("stateful training reads contiguous streams in time order and runs "
                         "in one process; set stateful=False to train on several")
    train_set = train_loader.dataset
    if len(train_set) < world:
        raise ValueError(f"{len(train_set)} training windows cannot be shared out between "
                         f"{world} processes; give a longer series or fewer devices")
    common = dict(num_workers=train_loader.num_workers, collate_fn=train_loader.collate_fn)
    train = DataLoader(train_set, batch_size=train_loader.batch_size,
                       sampler=ShardSampler(len(train_set), shuffle=True, seed=seed), **common)
    if val_loader is None:
        return train, None
    val_set = val_loader.dataset
    if hasattr(val_set, "shard"):
        val_set = val_set.shard(world)
    if len(val_set) < world:
        raise ValueError(f"{len(val_set)} validation windows cannot be shared out between "
                         f"{world} processes; give a longer validation tail or fewer devices")
    val = DataLoader(val_set, batch_size=val_loader.batch_size,
                     sampler=ShardSampler(len(val_set), shuffle=False),
                     num_workers=val_loader.num_workers, collate_fn=val_loader.collate_fn)
    return train, val


class RunFacts(Callback):
    """Writes what `fit_module` reads from the trainer into the callback metrics, which
    Lightning carries back from a spawned or forked rank 0 (the trainer's own counters and
    the checkpoint's best score stay behind in the child)."""

    def on_train_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        best = getattr(trainer.checkpoint_callback, "best_model_score", None)
        facts = {"global_step": trainer.global_step, "current_epoch": trainer.current_epoch,
                 "should_stop": float(trainer.should_stop),
                 "best_score": float("nan") if best is None else float(best)}
        metrics = trainer.callback_metrics
        for name, value in facts.items():
            metrics[FACT_KEYS[name]] = torch.tensor(float(value), dtype=torch.float64)


def read_facts(trainer: L.Trainer) -> dict[str, Any] | None:
    """`RunFacts`' values, removed from the callback metrics; None when there are none."""
    metrics = trainer.callback_metrics
    if FACT_KEYS["global_step"] not in metrics:
        return None
    raw = {name: float(metrics.pop(key)) for name, key in FACT_KEYS.items()}
    best = raw["best_score"]
    return {"global_step": int(raw["global_step"]), "current_epoch": int(raw["current_epoch"]),
            "should_stop": bool(raw["should_stop"]),
            "best_score": None if math.isnan(best) else best}
