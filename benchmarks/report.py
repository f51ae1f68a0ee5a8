"""Write docs/benchmarks.md from the JSON files in benchmarks/results (never typed by hand).

    python -m benchmarks.report [--results DIR] [--output FILE]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from benchmarks import records
from benchmarks.common import RESULTS

ROOT = Path(__file__).resolve().parent.parent


def _load(results: Path, name: str) -> dict | None:
    path = results / f"{name}.json"
    return json.loads(path.read_text()) if path.is_file() else None


def _machine(m: dict) -> str:
    gpu = m.get("gpu") or "no GPU"
    return (f"{m['cpu']}, {m['cores']} cores, {gpu}, torch {m['torch']}, "
            f"{m['torch_threads']} torch thread(s), Python {m['python']}")


def _ms(seconds: float) -> str:
    return f"{seconds * 1e3:.2f}"


def _ms3(seconds: float) -> str:
    return f"{seconds * 1e3:.3f}"


def _load_avg(values: list[float]) -> str:
    return " / ".join(f"{v:.2f}" for v in values)


def _resolved(cfg: dict, name: str) -> str:
    """`name=value`, with the value `fit` resolved it to where the script recorded it."""
    given, resolved = cfg["model"][name], cfg.get("resolved", {}).get(name)
    return f"{name}={given}" + (f" -> {resolved}" if resolved not in (None, given) else "")


def _streaming(d: dict, dataset: str | None = None) -> list[str]:
    cfg = d["config"]
    model = cfg["model"]
    load = d["load_average"]
    script = "python -m benchmarks.streaming_vs_reencode" + (
        f" --dataset {dataset}" if dataset else "")
    lines = [
        f"### The same on {dataset}" if dataset else
        "## 1. Streaming update vs re-encoding the history",
        "",
        f"Script: `{script}`. Machine: {_machine(d['machine'])}. "
        f"Load average (1/5/15 min) {_load_avg(load['before'])} before the run, "
        f"{_load_avg(load['after'])} after (other jobs share the 2 cores).",
        "",
        f"Model: {cfg['architecture']} ({_resolved(cfg, 'patch_len')}, "
        f"{_resolved(cfg, 'stride')}, "
        f"d_model={model['d_model']}, n_layers={model['n_layers']}, n_heads={model['n_heads']}, "
        f"segment_len={model['segment_len']}, mem_len={model['mem_len']}, "
        f"horizon={model['horizon']}), {cfg['training']}; {cfg['n_channels']} channels of "
        f"{cfg['data']}" + (", measured as above." if dataset else "."),
        "",
    ]
    if not dataset:
        lines += [
            f"Streaming = `update(one row)` + `predict()`, over {cfg['steps']:,} consecutive "
            "single-row updates from each history length: one in `stride` of them completes a "
            "patch and runs the network, the others only buffer the row. Re-encoding = "
            f"`predict(history=all rows so far)`, timed {cfg['reencodes']} times interleaved "
            "with the streaming steps (same machine load); its median is divided by the "
            "streaming median, 99th percentile and worst step.",
            "",
        ]
    if all("reencode_float32_s" in r for r in d["results"]):
        lines += [
            "Inference runs in float64 (training in float32), so that streaming and "
            "re-encoding agree to float64 rounding in the series' own units. Re-encoding with a "
            "float32 copy of the network, timed at the same points: "
            + "; ".join(f"{r['history_rows']:,} rows {_ms(r['reencode_float32_s'])} ms "
                        f"(float64 {_ms(r['reencode_s'])} ms), worst step "
                        f"{r['ratio_worst_vs_float32_reencode']:,.0f}x faster"
                        for r in d["results"]) + ".",
            "",
        ]
    lines += [
        "| history rows | re-encode (ms) | update+predict median (ms) | p99 (ms) | worst (ms) "
        "| patch-completing step, median: all / network (ms) | network part: median / p99 (ms) "
        "| speed-up vs median | vs p99 | vs worst | max abs diff |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in d["results"]:
        lines.append(
            f"| {r['history_rows']:,} | {_ms(r['reencode_s'])} | {_ms3(r['stream_median_s'])} "
            f"| {_ms3(r['stream_p99_s'])} | {_ms3(r['stream_worst_s'])} "
            f"| {_ms3(r['stream_completing_median_s'])} / "
            f"{_ms3(r['network_completing_median_s'])} "
            f"| {_ms3(r['network_median_s'])} / {_ms3(r['network_p99_s'])} "
            f"| {r['ratio_median']:,.0f}x | {r['ratio_p99']:,.0f}x | {r['ratio_worst']:,.0f}x "
            f"| {r['max_abs_diff_stream_vs_reencode']:.1e} |"
        )
    cpu = all("stream_cpu_median_s" in r for r in d["results"])
    if cpu:
        lines += ["", "The same steps in thread CPU time (`time.thread_time`), which leaves out "
                      "the time the process waited for a core while other jobs ran: what they "
                      "cost when not preempted (cache and memory contention still count).", "",
                  "| history rows | re-encode (ms) | update+predict median (ms) | p99 (ms) "
                  "| worst (ms) | speed-up vs worst |", "|---:|---:|---:|---:|---:|---:|"]
        for r in d["results"]:
            lines.append(
                f"| {r['history_rows']:,} | {_ms(r['reencode_cpu_s'])} "
                f"| {_ms3(r['stream_cpu_median_s'])} | {_ms3(r['stream_cpu_p99_s'])} "
                f"| {_ms3(r['stream_cpu_worst_s'])} | {r['ratio_cpu_worst']:,.0f}x |")
    lines += ["", "Targets: median <= 0.5 ms and p99 <= 1.5 ms; worst step >= 200x "
                  "faster than re-encoding at 16k rows and >= 1,000x at 64k."]
    for r in d["results"]:
        views = [("wall clock", "stream", "ratio_worst")]
        if cpu:
            views.append(("CPU time", "stream_cpu", "ratio_cpu_worst"))
        parts = []
        for label, key, ratio in views:
            checks = [f"median {'met' if r[key + '_median_s'] <= 5e-4 else 'NOT met'}",
                      f"p99 {'met' if r[key + '_p99_s'] <= 1.5e-3 else 'NOT met'}"]
            need = {16000: 200, 64000: 1000}.get(r["history_rows"])
            if need:
                verdict = "met" if r[ratio] >= need else "NOT met"
                checks.append(f"worst step >= {need}x {verdict} ({r[ratio]:,.0f}x)")
            parts.append(f"{label}: " + ", ".join(checks))
        lines.append(f"- {r['history_rows']:,} rows: " + "; ".join(parts) + ".")
    if d.get("batched"):
        lines += ["", f"Batched updates at {cfg['batched_at_rows']:,} rows: `update(k rows)` + "
                      "`predict()` against the network part alone on the same rows (medians of "
                      "repeats); the rest is one validation, scaling and forecast frame.", "",
                  "| k rows | update+predict (ms) | network part (ms) | rest (ms) | per row (ms) |",
                  "|---:|---:|---:|---:|---:|"]
        for b in d["batched"]:
            lines.append(f"| {b['rows']} | {_ms3(b['update_predict_s'])} | {_ms3(b['network_s'])} "
                         f"| {_ms3(b['overhead_s'])} | {_ms3(b['per_row_s'])} |")
    if not dataset:
        lines += ["", "'Network part' is `Stream.feed` on scaled rows plus the forecast read, "
                      "timed on the same rows; the rest of update+predict is validation, scaling "
                      "and building the forecast frame. The last column is the largest "
                      "difference between the streamed and the re-encoded forecast (original "
                      "units)."]
    lines += ["", f"![streaming](../benchmarks/results/{d['benchmark']}"
              f"{'_' + dataset if dataset else ''}.png)", ""]
    return lines


def _one_token(d: dict) -> list[str]:
    cfg, r = d["config"], d["results"]
    feed, full = r["feed"], r["update_predict"]
    res = cfg["resolved"]

    def row(label: str, cell: dict, ratio: str) -> str:
        return (f"| {label} | {cell['cpu_median_s'] * 1e6:.0f} | {cell['cpu_p90_s'] * 1e6:.0f} "
                f"| {cell['wall_median_s'] * 1e6:.0f} | {ratio} |")

    return [
        "### The one-token network step, before and after (paired)",
        "",
        f"Script: `benchmarks/one_token_step.py`, since removed. Machine: "
        f"{_machine(d['machine'])}. "
        f"Load average (1/5/15 min) {_load_avg(d['load_average']['before'])} before, "
        f"{_load_avg(d['load_average']['after'])} after.",
        "",
        f"{cfg['steps']} consecutive patch-completing single-row updates after "
        f"{cfg['history_rows']:,} rows ({cfg['architecture']}, patch_len={res['patch_len']}, "
        f"stride={res['stride']}, {cfg['n_channels']} channels), {cfg['repeats']} repeats; each "
        "step runs from the same state through the general path (`TXLNet.forward`, which "
        "every token ran before: mask, relative shift, einsums, the whole context projected "
        "again) and through `TXLNet.step` (one token on folded weights, "
        "`txl_ts.txl.step`), in alternating order. Times in "
        "microseconds; the ratio is the median of the per-step ratios (CPU time).",
        "",
        "| patch-completing step | CPU median (us) | CPU p90 (us) | wall median (us) "
        "| speed-up (paired) |",
        "|---|---:|---:|---:|---:|",
        row("`Stream.feed`, general path", feed["general"], "1.00x"),
        row("`Stream.feed`, one-token step", feed["one_token"], f"{r['feed_ratio_cpu']:.2f}x"),
        row("`Stream.feed`, one-token step, keys/values not yet cached",
            feed["one_token_uncached"], f"{r['feed_ratio_uncached_cpu']:.2f}x"),
        row("`update(1 row)` + `predict()`, general path", full["general"], "1.00x"),
        row("`update(1 row)` + `predict()`, one-token step", full["one_token"],
            f"{r['update_predict_ratio_cpu']:.2f}x"),
        *([row("`Stream.feed`, one-token step in float32", feed["one_token_float32"],
               f"{r['feed_ratio_cpu'] * r['feed_float64_vs_float32_cpu']:.2f}x"),
           row("`update(1 row)` + `predict()`, one-token step in float32",
               full["one_token_float32"],
               f"{r['update_predict_ratio_cpu'] * r['update_predict_float64_vs_float32_cpu']:.2f}"
               "x")]
          if "one_token_float32" in feed else []),
        "",
        f"Largest difference between the two paths: head outputs {r['max_abs_diff_heads']:.1e} "
        f"(normalised units; small because the head starts at zero and trained one epoch: "
        "`tests/txl/test_model.py` checks the step against the general path with random weights "
        f"to 1e-6), forecasts {r['max_abs_diff_forecasts']:.1e} (original units). "
        "Keys/values are not cached on the first step after `fit`, `load`, `reset_state` or a "
        "multi-token update.",
        "",
        *([f"Inference runs in float64; the float32 rows run a float32 copy of the network from "
           f"the same states. Paired, float64 costs {r['feed_float64_vs_float32_cpu']:.2f}x "
           f"float32's CPU time in `Stream.feed` and "
           f"{r['update_predict_float64_vs_float32_cpu']:.2f}x in the whole step (the float32 "
           "rows' speed-ups are products of paired ratios).", ""]
          if "feed_float64_vs_float32_cpu" in r else []),
        *_step_cost(r),
    ]


def _step_cost(r: dict) -> list[str]:
    """What bounds the one-token step: operators dispatched, arithmetic, warm vs in sequence."""
    cost, warm = r.get("cost"), r.get("feed_one_token_warm_cpu_median_s")
    if cost is None or warm is None:
        return []
    ops, flops = cost["one_token"]["aten_ops"], cost["one_token"]["flops"]
    seq = r["feed"]["one_token"]["cpu_median_s"]
    return [
        f"What bounds it: one patch-completing `Stream.feed` through the one-token step "
        f"dispatches {ops} aten operators (the general path {cost['general']['aten_ops']}) for "
        f"{flops:,} floating-point operations in matrix products (the general path "
        f"{cost['general']['flops']:,}; torch's FlopCounterMode). Warm (the third of three "
        f"back-to-back calls from one state) it takes {warm * 1e6:.0f} us of CPU time, "
        f"{warm / ops * 1e6:.1f} us per operator; in the alternating sequence above, "
        f"{seq * 1e6:.0f} us. The time goes to calling operators on (channels, d_model) "
        "tensors and to cold caches, not to arithmetic.",
        "",
    ]


def _training(d: dict) -> list[str]:
    cfg = d["config"]
    lines = [
        "## 2. Training cost as the history grows",
        "",
        f"Script: `python -m benchmarks.training_cost`. Machine: {_machine(d['machine'])}.",
        "",
        f"Network: d_model={cfg['d_model']}, n_layers={cfg['n_layers']}, "
        f"n_heads={cfg['n_heads']}, d_ff={cfg['d_ff']}, patch_len={cfg['patch_len']}, "
        f"stride={cfg['stride']}, horizon={cfg['horizon']}, segment_len={cfg['segment_len']}, "
        f"mem_len={cfg['mem_len']}; batch of {cfg['batch']} samples; one training sample covers "
        f"{cfg['base_segments']} x mult segments. Variants: `txl_segment_backward` "
        "(`TXLModule.backward_loss`, what `fit` runs: truncated BPTT, backward after each "
        "segment, memory detached, one optimiser step), `txl_one_backward` (`TXLModule.loss`: "
        "one backward over all segments), "
        f"`full_attention` ({cfg['full_attention']}).",
        "",
        f"Peak memory: {cfg['peak_memory']}; {cfg['memory_cap']} "
        f"({cfg['memory_cap_gib']} GiB). Time: median of {cfg['rounds']} steps per "
        "configuration, all configurations interleaved in one process.",
        "",
        "| variant | mult | tokens | peak memory growth (MiB) | step (s) | per sample (ms) "
        "| per segment (ms) | per token per sample (us) | per token vs 1x |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    base = {r["variant"]: r for r in d["results"] if r["mult"] == min(
        x["mult"] for x in d["results"])}
    for r in d["results"]:
        if r["oom"]:
            lines.append(f"| {r['variant']} | {r['mult']} | {r['history_tokens']:,} "
                         f"| out of memory | | | | | |")
            continue
        rel = r["per_token_us"] / base[r["variant"]]["per_token_us"]
        lines.append(
            f"| {r['variant']} | {r['mult']} | {r['history_tokens']:,} "
            f"| {r['peak_rss_growth_mib']:.0f} | {r['step_s']:.3f} | {r['per_sample_s'] * 1e3:.1f} "
            f"| {r['per_segment_s'] * 1e3:.1f} | {r['per_token_us']:.1f} | {rel:.2f} |"
        )
    lines.append("")
    for variant in ("txl_segment_backward", "txl_one_backward", "full_attention"):
        ok = [r for r in d["results"] if r["variant"] == variant and not r["oom"]]
        upto8 = [r for r in ok if r["mult"] <= 8]
        if len(upto8) < 2:
            continue
        mem = [r["peak_rss_growth_mib"] for r in upto8]
        spread = (max(mem) - min(mem)) / min(mem) * 100 if min(mem) > 0 else float("nan")
        tok = [r["per_token_us"] for r in upto8]
        lines.append(
            f"- `{variant}`, 1x..8x: peak memory {min(mem):.0f}..{max(mem):.0f} MiB "
            f"(max/min - 1 = {spread:.0f}%), time per token {min(tok):.1f}..{max(tok):.1f} us "
            f"(max/min = {max(tok) / min(tok):.2f})."
        )
        oom = [r for r in d["results"] if r["variant"] == variant and r["oom"]]
        longest = max(r["mult"] for r in ok)
        if not oom:
            lines[-1] += (f" No out-of-memory up to {longest}x under the "
                          f"{cfg['memory_cap_gib']} GiB cap; peak memory there: "
                          f"{[r for r in ok if r['mult'] == longest][0]['peak_rss_growth_mib']:.0f}"
                          " MiB.")
        if oom:
            first = oom[0]
            lines[-1] += (f" Out of memory from {first['mult']}x "
                          f"({first['history_tokens']:,} tokens).")
    lines += [
        "",
        "Gradients of `txl_segment_backward` and `txl_one_backward` agree to "
        f"{d['grad_max_abs_diff_segment_vs_one_backward']:.1e} (max abs difference, dropout off, "
        "longest history): backward per segment is the same update at a fraction of the memory.",
        "",
        "![training cost](../benchmarks/results/training_cost.png)",
        "",
    ]
    return lines


def _throughput(cpu: dict | None, gpu: dict | None) -> list[str]:
    lines = ["## 3. Throughput of the default TXLForecaster on ETTh1", ""]
    ref = cpu or gpu
    if ref is None:
        return lines + ["Not measured yet.", ""]
    cfg = ref["config"]
    lines += [
        f"Script: `python -m benchmarks.throughput` (GPU: `--device cuda --bf16`). Model: "
        f"{cfg['architecture']}, trained for {cfg['limit_train_batches']} batches of one "
        f"epoch on the first {cfg['train_rows']} rows (the 12-month training split); training "
        "speed is the median over those batches, the first excluded as warm-up (the "
        "latencies do not depend on the weights). "
        f"A sample is one window of {ref['training']['tokens_per_sample_per_channel']} tokens "
        f"x {ref['training']['n_channels']} channels. Forecast latencies with the state at the "
        f"end of ETTh1 ({ref['forecasting']['history_rows']:,} rows), median of "
        f"{ref['forecasting']['repeats']} repeats.",
        "",
        "| device | machine | training samples/s | predict() (ms) | update(1 row)+predict, "
        "mean / worst (ms) | predict(history=all) (ms) |",
        "|---|---|---:|---:|---:|---:|",
    ]
    for label, d in (("CPU", cpu), ("GPU (H100, bf16)", gpu)):
        if d is None:
            lines.append(f"| {label} | no GPU in this session | not measured | not measured "
                         "| not measured | not measured |")
            continue
        t, f = d["training"], d["forecasting"]
        lines.append(
            f"| {label} | {_machine(d['machine'])} | {t['samples_per_s']:.1f} "
            f"| {_ms(f['predict_s'])} | {_ms(f['update_predict_mean_s'])} / "
            f"{_ms(f['update_predict_worst_s'])} | {_ms(f['reencode_s'])} |"
        )
    if gpu is None:
        lines += ["", "No GPU was available in this session: the `--device cuda --bf16` path "
                      "(bf16-mixed training, bf16 autocast for forecasting) is implemented but "
                      "its row is not measured."]
    lines.append("")
    return lines


def render(results: Path) -> str:
    stream = _load(results, "streaming_vs_reencode")
    one_token = _load(results, "one_token_step")
    train = _load(results, "training_cost")
    cpu, gpu = _load(results, "throughput"), _load(results, "throughput_cuda_bf16")
    lines = [
        "# Efficiency benchmarks",
        "",
        "Generated by `python -m benchmarks.report` from the JSON files in "
        "`benchmarks/results/`; do not edit by hand. The CPUs are shared and noisy: compare "
        "the ratios (measured side by side in one process, medians of repeats), not the "
        "absolute times.",
        "",
    ]
    smoke = [d["benchmark"] for d in (stream, one_token, train, cpu, gpu)
             if d and d.get("smoke")]
    if smoke:
        lines += [f"**Smoke-run results (not real measurements): {', '.join(smoke)}.**", ""]
    if stream:
        lines += _streaming(stream)
    for dataset in ("ETTh1",):
        real = _load(results, f"streaming_vs_reencode_{dataset}")
        if real:
            lines += _streaming(real, dataset)
    if one_token:
        lines += _one_token(one_token)
    if train:
        lines += _training(train)
    lines += _throughput(cpu, gpu)
    lines += records.ablation_section(results)
    lines += records.selection_section(results)
    from benchmarks.lstm_patch_cost import section as lstm_section  # imports txl_ts and torch

    lines += lstm_section(results)
    from benchmarks.unseen_data import section as unseen_section

    lines += unseen_section(results)
    from benchmarks.low_frequency import section as low_frequency_section

    lines += low_frequency_section(results)
    lines += records.ridge_prior_section(results)
    return "\n".join(lines).rstrip() + "\n"


def main(argv: list[str] | None = None) -> Path:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--results", type=Path, default=RESULTS)
    parser.add_argument("--output", type=Path, default=ROOT / "docs" / "benchmarks.md")
    args = parser.parse_args(argv)
    args.output.write_text(render(args.results))
    return args.output


if __name__ == "__main__":
    main()
