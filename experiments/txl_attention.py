"""How far back does TXL's attention look? Attention mass by token distance, and on the memory.

Fits the default `TXLForecaster` on a protocol data set's train split (validation split for
early stopping, as in the benchmark), streams the whole series through it, and averages each
layer's attention probabilities (heads and channels pooled) over every query that has a full
memory: by relative distance in tokens, and the share that lands on memory tokens (before the
query's segment). Writes benchmarks/results/txl_attention_<dataset>.json, which
`python -m benchmarks.report` renders into docs/benchmarks.md section 4.

    OMP_NUM_THREADS=1 python -m experiments.txl_attention --dataset ETTh1
"""

from __future__ import annotations

import argparse

import torch

from benchmarks.common import RESULTS, machine, write_json
from txl_ts.benchmark import load_protocol, make_model
from txl_ts.txl import Stream


def attention_profile(model, scaled) -> list[dict]:
    """Per layer: mean attention mass by distance (tokens) and the share on the memory."""
    net = model.net_
    seg, mem = model.segment_len, model.mem_len
    sums = [torch.zeros(seg + mem) for _ in net.layers]
    memory_mass = [0.0 for _ in net.layers]
    uniform_mass = [0.0 for _ in net.layers]  # what attention spread evenly would give
    peak, uniform_peak = [0.0 for _ in net.layers], [0.0 for _ in net.layers]
    counts = [0 for _ in net.layers]

    def hook(index):
        def record(module, args, _out):
            x, context, pos = args
            mlen, qlen = context.shape[1], x.shape[1]
            if mlen < mem:  # only queries whose memory is full (keys: memory, then segment)
                return
            probs = module.logits(x, context, pos)[0].softmax(-1)  # (B, H, L, K)
            for i in range(qlen):
                row = probs[:, :, i, : mlen + i + 1].mean((0, 1))  # keys 0 .. M + i
                distance = torch.arange(mlen + i, -1, -1)  # key j is M + i - j tokens back
                sums[index].index_add_(0, distance, row)
                memory_mass[index] += float(row[:mem].sum())
                uniform_mass[index] += mem / (mlen + i + 1)
                # largest weight of each (channel, head): how peaked attention is
                peak[index] += float(probs[:, :, i, : mlen + i + 1].max(-1).values.mean())
                uniform_peak[index] += 1 / (mlen + i + 1)
                counts[index] += 1
        return record

    handles = [layer.attn.register_forward_hook(hook(k)) for k, layer in enumerate(net.layers)]
    try:
        # the general path for every chunk: the one-token step bypasses the attention modules
        stream = Stream(net, model.grid_, seg, mem, one_token=False)
        stream.feed(stream.start(scaled.shape[1]), scaled)
    finally:
        for h in handles:
            h.remove()
    out = []
    for k in range(len(net.layers)):
        by_distance = (sums[k] / max(counts[k], 1)).tolist()
        out.append({"layer": k, "queries": counts[k],
                    "memory_share": memory_mass[k] / max(counts[k], 1),
                    "uniform_memory_share": uniform_mass[k] / max(counts[k], 1),
                    "max_weight_mean": peak[k] / max(counts[k], 1),
                    "uniform_max_weight": uniform_peak[k] / max(counts[k], 1),
                    "mass_by_distance": by_distance,
                    "mean_distance": sum(d * m for d, m in enumerate(by_distance))})
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="ETTh1")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    torch.set_num_threads(1)
    df, split = load_protocol(args.dataset, "M")
    model = make_model("txl", 96, args.seed)
    model.fit(df.iloc[: split.train_end],
              validation_data=df.iloc[split.train_end : split.test_start])
    scaled = model.scaler_.transform(df.to_numpy())
    layers = attention_profile(model, scaled)
    for layer in layers:
        top = sorted(range(len(layer["mass_by_distance"])),
                     key=lambda d: -layer["mass_by_distance"][d])[:5]
        print(f"layer {layer['layer']}: memory share {layer['memory_share']:.3f} (uniform "
              f"{layer['uniform_memory_share']:.3f}), largest weight "
              f"{layer['max_weight_mean']:.3f} "
              f"(uniform {layer['uniform_max_weight']:.3f}), mean distance "
              f"{layer['mean_distance']:.2f} tokens, top distances {top}")
    write_json(RESULTS, f"txl_attention_{args.dataset}", {
        "benchmark": "txl_attention", "dataset": args.dataset, "machine": machine(),
        "model": {k: v for k, v in model.get_params().items() if k != "trainer_kwargs"},
        "resolved": {"patch_len": model.patch_len_, "stride": model.stride_,
                     "lookback": model.lookback_},
        "fit_summary": model.fit_summary_, "layers": layers})


if __name__ == "__main__":
    main()
