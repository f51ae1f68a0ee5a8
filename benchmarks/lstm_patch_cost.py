"""Training cost of the LSTM baseline by `patch_len`: one row per step against patches.

Times one training step (forward, backward, AdamW) of `LSTMNet` on a batch the size the
scoreboard trains ETTh1 with (64 windows x 7 channels = 448 sequences, lookback 336, horizon
96, hidden 64, 2 layers), for each `patch_len`, alternating the variants within each repeat in
one process so that they see the same machine load. Reports the median seconds per batch (thread
CPU time and wall clock) and the ratio to `patch_len=1`.

    python -m benchmarks.lstm_patch_cost [--smoke] [--repeats 3]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch

from benchmarks.common import RESULTS, machine, median, set_threads, write_json
from txl_ts.baselines.lstm import LSTMNet

NAME = "lstm_patch_cost"


def _step_seconds(net: LSTMNet, opt: torch.optim.Optimizer, x: torch.Tensor,
                  y: torch.Tensor, ids: torch.Tensor) -> tuple[float, float]:
    c0, t0 = time.thread_time(), time.perf_counter()
    loss = (net(x, ids) - y).pow(2).mean()
    opt.zero_grad()
    loss.backward()
    opt.step()
    return time.thread_time() - c0, time.perf_counter() - t0


def run(patches: list[int], n_seq: int, lookback: int, horizon: int, repeats: int) -> dict:
    torch.manual_seed(0)
    x, y = torch.randn(n_seq, lookback), torch.randn(n_seq, horizon)
    ids = torch.zeros(n_seq, dtype=torch.long)
    nets = {p: LSTMNet(lookback, horizon, 64, 2, 0.1, 1, 0, p) for p in patches}
    opts = {p: torch.optim.AdamW(net.parameters(), lr=1e-3) for p, net in nets.items()}
    for p in patches:  # warm-up step, not timed
        _step_seconds(nets[p], opts[p], x, y, ids)
    times: dict[int, list[tuple[float, float]]] = {p: [] for p in patches}
    for _ in range(repeats):
        for p in patches:
            times[p].append(_step_seconds(nets[p], opts[p], x, y, ids))
    rows = []
    base_cpu = median([t[0] for t in times[patches[0]]])
    for p in patches:
        cpu, wall = median([t[0] for t in times[p]]), median([t[1] for t in times[p]])
        rows.append({"patch_len": p, "lstm_steps": lookback // p, "cpu_s": cpu, "wall_s": wall,
                     "speedup_cpu_vs_first": base_cpu / cpu})
    return {"n_sequences": n_seq, "lookback": lookback, "horizon": horizon, "hidden": 64,
            "n_layers": 2, "repeats": repeats, "rows": rows}


def section(results: Path) -> list[str]:
    """docs/benchmarks.md section 5, from `lstm_patch_cost.json` (nothing when it is missing)."""
    path = results / f"{NAME}.json"
    if not path.is_file():
        return []
    d = json.loads(path.read_text())
    m = d["machine"]
    lines = [
        "## 5. LSTM baseline: training cost by patch_len", "",
        "Script: `python -m benchmarks.lstm_patch_cost`. Machine: "
        f"{m['cpu']}, {m['cores']} cores (shared), torch {m['torch']}, "
        f"{m['torch_threads']} torch thread. One training step (forward, backward, AdamW) of "
        f"`LSTMNet` on {d['n_sequences']} sequences (the scoreboard's ETTh1 batch: 64 windows "
        f"x 7 channels), lookback {d['lookback']}, horizon {d['horizon']}, hidden "
        f"{d['hidden']}, {d['n_layers']} layers; median of {d['repeats']} alternating repeats."
        + (" **Smoke run: not a measurement.**" if d.get("smoke") else ""), "",
        "| patch_len | LSTM steps | CPU time per batch (ms) | wall (ms) | speed-up (CPU) |",
        "|---:|---:|---:|---:|---:|",
    ]
    for row in d["rows"]:
        lines.append(f"| {row['patch_len']} | {row['lstm_steps']} | {row['cpu_s'] * 1000:.1f} "
                     f"| {row['wall_s'] * 1000:.1f} | {row['speedup_cpu_vs_first']:.0f}x |")
    return lines + [""]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="tiny sizes, for the test suite")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    set_threads(1)
    if args.smoke:
        result = run([1, 8], n_seq=8, lookback=16, horizon=4, repeats=1)
    else:
        result = run([1, 24], n_seq=448, lookback=336, horizon=96, repeats=args.repeats)
    payload = {"benchmark": NAME, "smoke": args.smoke, "machine": machine(), **result}
    path = write_json(args.out, NAME, payload)
    first = result["rows"][0]["patch_len"]
    for row in result["rows"]:
        print(f"patch_len={row['patch_len']:>3} ({row['lstm_steps']} LSTM steps): "
              f"{row['cpu_s'] * 1000:.1f} ms CPU / {row['wall_s'] * 1000:.1f} ms wall per "
              f"batch, {row['speedup_cpu_vs_first']:.0f}x vs patch_len={first}")
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
