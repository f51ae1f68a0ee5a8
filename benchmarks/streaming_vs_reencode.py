"""Latency of absorbing one new step and forecasting: streaming vs re-encoding the history.

Streaming: `update(one_row)` then `predict()`; the memory advances by the new patch only.
Re-encoding: `predict(history=all_rows)`, which runs the network over the whole history.
A single-row update computes a token only when a patch completes (every `stride` rows), so
each repeat times `stride` consecutive single-row updates and reports their mean and the
worst one. Ratios are taken per repeat (both measured side by side in one process), and the
median over repeats is reported.

    python -m benchmarks.streaming_vs_reencode [--smoke] [--out DIR]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from benchmarks.common import (
    RESULTS,
    machine,
    median,
    new_figure,
    set_threads,
    synthetic_frame,
    timed,
    write_json,
)

DEFAULT_ARCH = "the default TXLForecaster architecture"
NAME = "streaming_vs_reencode"


def _model(smoke: bool):
    from txl_ts import TXLForecaster

    quiet = {"enable_progress_bar": False}
    if smoke:
        return TXLForecaster(horizon=8, patch_len=8, stride=4, d_model=16, n_heads=2,
                             n_layers=1, d_ff=32, segment_len=4, mem_len=8, n_segments=2,
                             max_epochs=1, val_size=0, trainer_kwargs=quiet)
    return TXLForecaster(max_epochs=1, val_size=0, trainer_kwargs=quiet)  # default architecture


def _network_only(model, state, scaled_rows: list[np.ndarray]) -> list[float]:
    """Seconds per row of the memory update and forecast read alone (no pandas/validation)."""
    stream, seconds = model._stream(), []
    for row in scaled_rows:
        spent, state = timed(lambda row=row, state=state: stream.feed(state, row)[1])
        seconds.append(spent + timed(lambda state=state: model._read_forecast(state))[0])
    return seconds


def run(lengths: list[int], n_channels: int, repeats: int, smoke: bool) -> dict:
    model_template = _model(smoke)
    stride = model_template.stride
    df = synthetic_frame(max(lengths) + stride, n_channels)
    n_fit = lengths[0]
    model = model_template.fit(df.iloc[:n_fit])
    rows = []
    known = n_fit
    for length in lengths:
        if length > known:  # advance the stream to `length` rows (linear, done once)
            model.update(df.iloc[known:length])
            known = length
        state = model.get_state()
        new_rows = [df.iloc[length + j : length + j + 1] for j in range(stride)]
        history = df.iloc[: length + stride]
        scaled_rows = [model.scaler_.transform(r.to_numpy()) for r in new_rows]
        stream_mean, stream_worst, reencode, ratio_mean, ratio_worst = [], [], [], [], []
        core_mean = []
        max_diff = 0.0
        for _ in range(repeats):
            model.set_state(state)
            steps = []
            for row in new_rows:
                seconds, streamed = timed(lambda row=row: (model.update(row), model.predict())[1])
                steps.append(seconds)
            core_mean.append(float(np.mean(_network_only(model, state.stream, scaled_rows))))
            seconds, full = timed(lambda h=history: model.predict(history=h))
            max_diff = max(max_diff, float(np.abs(streamed.to_numpy() - full.to_numpy()).max()))
            stream_mean.append(float(np.mean(steps)))
            stream_worst.append(max(steps))
            reencode.append(seconds)
            ratio_mean.append(seconds / stream_mean[-1])
            ratio_worst.append(seconds / stream_worst[-1])
        model.set_state(state)
        rows.append({
            "history_rows": length,
            "tokens_per_channel": (length - model.patch_len) // stride + 1,
            "reencode_s": median(reencode),
            "stream_mean_s": median(stream_mean),
            "stream_worst_s": median(stream_worst),
            "stream_worst_s_max": max(stream_worst),
            "stream_network_only_mean_s": median(core_mean),
            "ratio_mean": median(ratio_mean),
            "ratio_mean_min": min(ratio_mean),
            "ratio_worst": median(ratio_worst),
            "ratio_worst_min": min(ratio_worst),
            "max_abs_diff_stream_vs_reencode": max_diff,
        })
        print(f"{length:>7} rows: re-encode {rows[-1]['reencode_s'] * 1e3:9.2f} ms, "
              f"update+predict mean {rows[-1]['stream_mean_s'] * 1e3:7.3f} ms "
              f"(worst {rows[-1]['stream_worst_s'] * 1e3:7.3f} ms), "
              f"ratio {rows[-1]['ratio_mean']:8.1f}x (worst case {rows[-1]['ratio_worst']:.1f}x)")
    params = {k: v for k, v in model.get_params().items() if k != "trainer_kwargs"}
    return {
        "benchmark": NAME,
        "smoke": smoke,
        "machine": machine(),
        "config": {
            "architecture": "tiny smoke model" if smoke else DEFAULT_ARCH,
            "model": params,
            "training": f"1 epoch on the first {n_fit} rows (latency does not depend on weights)",
            "n_channels": n_channels,
            "repeats": repeats,
            "updates_per_repeat": stride,
            "data": "synthetic hourly series: daily + weekly cycles, random walk, noise",
        },
        "results": rows,
    }


def plot(payload: dict, path: Path) -> None:
    plt, fig, (ax, ax_ratio) = new_figure(2)
    res = payload["results"]
    x = [r["history_rows"] for r in res]
    ax.plot(x, [r["reencode_s"] * 1e3 for r in res], "o-", label="re-encode: predict(history)")
    ax.plot(x, [r["stream_mean_s"] * 1e3 for r in res], "s-", label="update(1 row) + predict, mean")
    ax.plot(x, [r["stream_worst_s"] * 1e3 for r in res], "^--", label="update + predict, worst")
    ax.set(xscale="log", yscale="log", xlabel="history length (rows)", ylabel="latency (ms)",
           title="Absorb one step and forecast")
    ax.legend(fontsize=8)
    ax_ratio.plot(x, [r["ratio_mean"] for r in res], "o-", label="mean over a patch")
    ax_ratio.plot(x, [r["ratio_worst"] for r in res], "^--", label="worst single update")
    ax_ratio.axhline(100, color="grey", lw=0.8, ls=":")
    ax_ratio.set(xscale="log", yscale="log", xlabel="history length (rows)",
                 ylabel="re-encode / streaming", title="Speed-up of streaming")
    ax_ratio.legend(fontsize=8)
    fig.suptitle(payload["machine"]["cpu"] + f", {payload['machine']['torch_threads']} thread(s)",
                 fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="tiny model and lengths (seconds)")
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--lengths", type=int, nargs="+", default=None)
    parser.add_argument("--channels", type=int, default=7)
    parser.add_argument("--repeats", type=int, default=None)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args(argv)
    set_threads(args.threads)
    lengths = args.lengths or ([300, 600] if args.smoke else [1000, 4000, 16000, 64000])
    repeats = args.repeats or (2 if args.smoke else 7)
    payload = run(sorted(lengths), args.channels if not args.smoke else 2, repeats, args.smoke)
    write_json(args.out, NAME, payload)
    plot(payload, args.out / f"{NAME}.png")
    return payload


if __name__ == "__main__":
    main()
