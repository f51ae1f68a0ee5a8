"""Do rerun grid cells reproduce the committed reports? Compares each cell's per-seed test
metrics (MSE, MAE and the epochs run) between two folders of grid reports.

    python -m experiments.grid_reproduction results /path/to/rerun [--markdown]

Prints one row per cell present in both: the largest relative difference of any seed's MSE
or MAE, and whether every seed ran the same epochs.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def _runs(path: Path) -> dict[str, list[dict]]:
    report = json.loads(path.read_text())
    return {name: entry["runs"] for name, entry in report["models"].items()}


def compare(old_dir: Path, new_dir: Path) -> list[dict]:
    rows = []
    for new in sorted(new_dir.glob("*.json")):
        old = old_dir / new.name
        if not old.exists():
            continue
        for model, new_runs in _runs(new).items():
            old_runs = _runs(old).get(model, [])
            worst, epochs_same = 0.0, True
            for a, b in zip(old_runs, new_runs):
                for metric in ("mse", "mae"):
                    if a.get(metric) is not None:
                        worst = max(worst, abs(b[metric] - a[metric]) / abs(a[metric]))
                epochs_same &= a.get("epochs") == b.get("epochs")
            rows.append({"cell": new.stem, "model": model, "seeds": len(new_runs),
                         "max_rel_diff": worst, "same_epochs": epochs_same,
                         "mse": sum(r["mse"] for r in new_runs) / len(new_runs)})
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("old", type=Path)
    parser.add_argument("new", type=Path)
    parser.add_argument("--markdown", action="store_true")
    args = parser.parse_args(argv)
    rows = compare(args.old, args.new)
    if args.markdown:
        print("| cell | seeds | mean MSE (rerun) | largest relative difference | same epochs |")
        print("|---|---|---|---|---|")
    for r in rows:
        if args.markdown:
            print(f"| {r['cell']} | {r['seeds']} | {r['mse']:.4f} | {r['max_rel_diff']:.1e} | "
                  f"{'yes' if r['same_epochs'] else 'no'} |")
        else:
            print(f"{r['cell']:28s} seeds={r['seeds']} mse={r['mse']:.4f} "
                  f"max_rel_diff={r['max_rel_diff']:.2e} same_epochs={r['same_epochs']}")
    return 0 if rows else 1


if __name__ == "__main__":
    sys.exit(main())
