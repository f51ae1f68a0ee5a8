"""Training cost as the training history grows: Transformer-XL recurrence vs full attention.

One training sample covers a history of `n_segments` consecutive segments of `segment_len`
tokens; the history grows 1x, 2x, 4x, ... with every other setting fixed. Variants, all the
same `TXLNet` (same d_model, layers, heads), one optimisation step per sample batch:

- txl_segment_backward: `TXLModule.backward_loss`, what `TXLForecaster.fit` runs: truncated
  BPTT as in Transformer-XL, each segment's loss is back-propagated as soon as the segment is
  done (the memory is detached), so only one segment's graph is alive at a time; gradients
  accumulate, then one optimiser step.
- txl_one_backward: `TXLModule.loss`: all segments are run, then one backward over the summed
  loss, so every segment's graph stays alive (how fit trained before per-segment backward).
- full_attention: the same network run as ONE segment over all the history's tokens with
  mem_len=0 (causal attention over everything: a vanilla Transformer of the same size).

Time per step is measured in this process, configurations interleaved round-robin, median
over rounds. Peak memory is measured in a fresh subprocess per configuration as the growth
of ru_maxrss over one warm-up step and one step (torch's CPU allocations are invisible to
tracemalloc). Subprocesses run under an address-space cap; exceeding it counts as "out of
memory".

    python -m benchmarks.training_cost [--smoke] [--out DIR]
"""

from __future__ import annotations

import argparse
import gc
import json
import resource
import subprocess
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

import torch

from benchmarks.common import (
    RESULTS,
    machine,
    median,
    new_figure,
    set_threads,
    timed,
    write_json,
)

NAME = "training_cost"
VARIANTS = ("txl_segment_backward", "txl_one_backward", "full_attention")


@dataclass(frozen=True)
class Setup:
    d_model: int = 64
    n_heads: int = 4
    n_layers: int = 2
    d_ff: int = 128
    patch_len: int = 24
    stride: int = 24
    horizon: int = 96
    lookback: int = 336
    segment_len: int = 8
    mem_len: int = 16
    base_segments: int = 4
    batch: int = 8

    @property
    def forecast_len(self) -> int:
        return self.horizon + self.stride - 1

    def n_tokens(self, mult: int) -> int:
        return self.base_segments * mult * self.segment_len

    def grid(self):
        from txl_ts.txl import TokenGrid

        context = max(self.lookback, self.patch_len, self.lookback + self.stride)
        return TokenGrid(self.patch_len, self.stride, self.horizon, context=context)

    def n_rows(self, mult: int) -> int:
        return self.grid().window_rows(self.n_tokens(mult))


SMOKE = Setup(d_model=16, n_heads=2, n_layers=1, d_ff=32, patch_len=8, stride=4, horizon=8,
              lookback=16, segment_len=4, mem_len=8, base_segments=2, batch=2)


class Trainer:
    """One variant at one history length: the net, its optimiser and a fixed batch."""

    def __init__(self, setup: Setup, variant: str, mult: int, seed: int = 0):
        from txl_ts.txl import TXLConfig, TXLModule, TXLNet

        torch.manual_seed(seed)
        self.setup, self.variant = setup, variant
        self.n_segments = setup.base_segments * mult
        self.net = TXLNet(TXLConfig(
            n_channels=1, patch_len=setup.patch_len, stride=setup.stride, horizon=setup.horizon,
            forecast_len=setup.forecast_len, lookback=setup.lookback,
            norm_window=setup.lookback, season=setup.patch_len, d_model=setup.d_model,
            n_heads=setup.n_heads, n_layers=setup.n_layers, d_ff=setup.d_ff, dropout=0.1))
        full = variant == "full_attention"

        class Module(TXLModule):
            def manual_backward(self, loss: torch.Tensor, *args, **kwargs) -> None:
                loss.backward()  # outside a Trainer, Lightning's manual_backward is this

        self.module = Module(
            self.net, setup.grid(),
            segment_len=setup.n_tokens(mult) if full else setup.segment_len,
            mem_len=0 if full else setup.mem_len, burn_in=0, stateful=False, val_start=0,
            lr=1e-3, weight_decay=1e-4,
        )
        self.optimizer = self.module.configure_optimizers()["optimizer"]
        t = torch.arange(setup.n_rows(mult), dtype=torch.float32)
        phase = torch.rand(setup.batch, 1) * 6.28
        self.batch = (torch.sin(t / 4 + phase) + 0.1 * torch.randn(setup.batch, len(t)))[:, None]

    def step(self) -> None:
        self.net.train()
        self.optimizer.zero_grad(set_to_none=True)
        if self.variant == "txl_segment_backward":
            self.module.backward_loss(self.batch)
        else:
            self.module.loss(self.batch).backward()
        self.optimizer.step()

    def gradients(self) -> list[torch.Tensor]:
        self.net.eval()  # no dropout, so two variants can be compared exactly
        self.optimizer.zero_grad(set_to_none=True)
        torch.manual_seed(1)  # the same sampled forecast origins for both variants
        if self.variant == "txl_segment_backward":
            self.module.backward_loss(self.batch)
        else:
            self.module.loss(self.batch).backward()
        return [p.grad.clone() for p in self.net.parameters() if p.grad is not None]


def _worker(spec: dict) -> dict:
    """Runs in a fresh process: peak resident memory of one variant at one length."""
    set_threads(spec["threads"])
    trainer = Trainer(Setup(**spec["setup"]), spec["variant"], spec["mult"])
    gc.collect()
    if spec.get("cap_bytes"):  # cap the growth of the address space beyond this point
        cap = _vm_size() + spec["cap_bytes"]
        resource.setrlimit(resource.RLIMIT_AS, (cap, resource.getrlimit(resource.RLIMIT_AS)[1]))
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    try:
        for _ in range(2):
            trainer.step()
    except (MemoryError, RuntimeError) as err:
        if "memory" not in str(err).lower() and not isinstance(err, MemoryError):
            raise
        return {"oom": True, "error": str(err).splitlines()[0][:200]}
    after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {"oom": False, "peak_rss_growth_mib": (after - before) / 1024}


def _vm_size() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmSize:"):
            return int(line.split()[1]) * 1024
    raise OSError("VmSize not found in /proc/self/status")


def _measure_memory(setup: Setup, variant: str, mult: int, threads: int, cap_gib: float,
                    in_process: bool = False) -> dict:
    spec = {"setup": asdict(setup), "variant": variant, "mult": mult, "threads": threads,
            "cap_bytes": int(cap_gib * 2**30) if cap_gib else None}
    if in_process:  # smoke runs only: exercises the code, the numbers mean little
        return _worker({**spec, "cap_bytes": None})
    proc = subprocess.run(
        [sys.executable, "-m", "benchmarks.training_cost", "--worker", json.dumps(spec)],
        capture_output=True, text=True, cwd=Path(__file__).resolve().parent.parent,
    )
    if proc.returncode != 0:
        if proc.returncode < 0 or "MemoryError" in proc.stderr or "alloc" in proc.stderr:
            return {"oom": True, "error": proc.stderr.strip().splitlines()[-1][:200]}
        raise RuntimeError(f"worker failed for {variant} x{mult}:\n{proc.stderr[-2000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def run(setup: Setup, mults: list[int], rounds: int, threads: int, cap_gib: float,
        smoke: bool) -> dict:
    """Memory per configuration (subprocesses, or in-process when `smoke`), then time."""
    # 1. memory, one fresh process per configuration; a variant that ran out of memory at
    #    one length is not tried at longer ones
    memory: dict[tuple[str, int], dict] = {}
    for variant in VARIANTS:
        for mult in mults:
            if any(memory.get((variant, m), {}).get("oom") for m in mults if m < mult):
                memory[(variant, mult)] = {"oom": True, "error": "skipped: OOM at a shorter length"}
                continue
            memory[(variant, mult)] = _measure_memory(setup, variant, mult, threads, cap_gib,
                                                      in_process=smoke)
            print(f"memory {variant:>22} x{mult:<3} {memory[(variant, mult)]}", flush=True)
    # 2. time per step, all configurations that fit interleaved in this process
    trainers = {key: Trainer(setup, *key) for key, m in memory.items() if not m["oom"]}
    times: dict[tuple[str, int], list[float]] = {key: [] for key in trainers}
    for trainer in trainers.values():
        trainer.step()  # warm-up
    for _ in range(rounds):
        for key, trainer in trainers.items():
            times[key].append(timed(trainer.step)[0])
    # 3. per-segment backward gives the same gradients as one backward (memory is detached)
    a = Trainer(setup, "txl_segment_backward", mults[-1]).gradients()
    b = Trainer(setup, "txl_one_backward", mults[-1]).gradients()
    grad_diff = max(float((x - y).abs().max()) for x, y in zip(a, b, strict=True))
    del trainers
    rows = []
    for (variant, mult), mem in memory.items():
        n_tokens = setup.n_tokens(mult)
        row = {"variant": variant, "mult": mult, "n_segments": setup.base_segments * mult,
               "history_tokens": n_tokens, "history_rows": setup.n_rows(mult), **mem}
        if (variant, mult) in times:
            step = median(times[(variant, mult)])
            row.update({
                "step_s": step,
                "step_s_all": times[(variant, mult)],
                "per_sample_s": step / setup.batch,
                "per_token_us": step / (setup.batch * n_tokens) * 1e6,
                "per_segment_s": step / (setup.base_segments * mult),
            })
        rows.append(row)
    return {
        "benchmark": NAME,
        "smoke": smoke,
        "machine": machine(),
        "config": {**asdict(setup), "rounds": rounds, "memory_cap_gib": cap_gib,
                   "memory_in_process": smoke,
                   "full_attention": "the same TXLNet as one segment over all tokens, mem_len=0",
                   "peak_memory": "growth of ru_maxrss over a warm-up step and one step, "
                                  "fresh subprocess per configuration",
                   "memory_cap": "address space may grow by memory_cap_gib after set-up"},
        "grad_max_abs_diff_segment_vs_one_backward": grad_diff,
        "results": rows,
    }


def plot(payload: dict, path: Path) -> None:
    plt, fig, (ax_mem, ax_time) = new_figure(2)
    for variant in VARIANTS:
        res = [r for r in payload["results"] if r["variant"] == variant]
        ok = [r for r in res if not r["oom"]]
        shown = [r for r in ok if r["peak_rss_growth_mib"] > 0]  # log scale
        ax_mem.plot([r["mult"] for r in shown], [r["peak_rss_growth_mib"] for r in shown], "o-",
                    label=variant)
        timed_rows = [r for r in ok if "per_token_us" in r]
        ax_time.plot([r["mult"] for r in timed_rows], [r["per_token_us"] for r in timed_rows],
                      "o-", label=variant)
        for r in res:
            if r["oom"]:
                ax_mem.axvline(r["mult"], color="red", ls=":", lw=0.8)
                ax_mem.annotate(f"{variant}: OOM", (r["mult"], 0), rotation=90, fontsize=7,
                                color="red", va="bottom")
                break
    for ax, label in ((ax_mem, "peak memory growth (MiB)"),
                      (ax_time, "time per token per sample (us)")):
        positive = any(y > 0 for line in ax.get_lines() for y in line.get_ydata())
        ax.set(xscale="log", yscale="log" if positive else "linear",
               xlabel="history length (x base)", ylabel=label)
        ax.set_xticks(sorted({r["mult"] for r in payload["results"]}))
        ax.set_xticklabels([str(m) for m in sorted({r["mult"] for r in payload["results"]})])
        ax.legend(fontsize=8)
    ax_mem.set_title("Peak memory of one training step")
    ax_time.set_title("Step time per token")
    fig.suptitle(payload["machine"]["cpu"] + f", {payload['machine']['torch_threads']} thread(s)",
                 fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv: list[str] | None = None) -> dict | None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="tiny model, 2 lengths (seconds)")
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--mults", type=int, nargs="+", default=None)
    parser.add_argument("--rounds", type=int, default=None)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--cap-gib", type=float, default=6.0,
                        help="cap on each memory subprocess's address-space growth (0: none)")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        print(json.dumps(_worker(json.loads(args.worker))))
        return None
    set_threads(args.threads)
    setup = SMOKE if args.smoke else Setup()
    mults = args.mults or ([1, 2] if args.smoke else [1, 2, 4, 8, 16, 32])
    rounds = args.rounds or (2 if args.smoke else 5)
    payload = run(setup, sorted(mults), rounds, args.threads, args.cap_gib, args.smoke)
    write_json(args.out, NAME, payload)
    plot(payload, args.out / f"{NAME}.png")
    return payload


if __name__ == "__main__":
    main()
