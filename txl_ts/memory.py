"""Segment-level recurrence: patching a stream, and advancing Transformer-XL's memory.

Tokens live on a fixed grid anchored at the first row of a stream: token n covers rows
[n * stride, n * stride + patch_len). Segments are fixed blocks of `segment_len` consecutive
tokens. A token attends to the memory (the `mem_len` layer inputs that precede its segment)
and to the earlier tokens of its own segment. Because that rule does not depend on how the
tokens arrive, feeding a stream in any chunks gives the same outputs as one pass over it.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import torch

from .model import TXLNet


@dataclass(frozen=True)
class Memory:
    """Per-layer cached layer inputs: `mems` before the current segment, `prefix` inside it."""

    mems: tuple[torch.Tensor, ...]  # n_layers x (B, <= mem_len, D), detached
    prefix: tuple[torch.Tensor, ...]  # n_layers x (B, < segment_len, D)

    @classmethod
    def empty(cls, net: TXLNet, batch: int, device: torch.device | None = None) -> Memory:
        ctx = tuple(net.empty_context(batch, device))
        return cls(mems=ctx, prefix=ctx)

    @property
    def n_prefix(self) -> int:
        return self.prefix[0].shape[1]


def advance(
    net: TXLNet, memory: Memory, patches: torch.Tensor, channel_ids: torch.Tensor,
    segment_len: int, mem_len: int,
) -> tuple[torch.Tensor, Memory]:
    """Run new tokens through the network, respecting segment boundaries.

    patches: (B, N, P). Returns forecasts (B, N, F) and the advanced memory. Memory carried
    past a segment boundary is detached: no gradient flows into earlier segments.
    """
    outputs = []
    start = 0
    n_tokens = patches.shape[1]
    while start < n_tokens:
        stop = start + min(n_tokens - start, segment_len - memory.n_prefix)
        contexts = [torch.cat([m, p], dim=1) for m, p in zip(memory.mems, memory.prefix)]
        forecast, layer_inputs = net(patches[:, start:stop], channel_ids, contexts)
        outputs.append(forecast)
        prefix = tuple(torch.cat([p, x], dim=1) for p, x in zip(memory.prefix, layer_inputs))
        if prefix[0].shape[1] == segment_len:  # segment complete: roll it into the memory
            mems = tuple(
                torch.cat([m, p], dim=1)[:, max(0, m.shape[1] + p.shape[1] - mem_len):].detach()
                for m, p in zip(memory.mems, prefix)
            )
            # detached too: an empty slice still links to this segment's graph
            prefix = tuple(p[:, :0].detach() for p in prefix)
            memory = Memory(mems=mems, prefix=prefix)
        else:
            memory = Memory(mems=memory.mems, prefix=prefix)
        start = stop
    if not outputs:
        b = patches.shape[0]
        return patches.new_zeros(b, 0, net.head.out_features), memory
    return torch.cat(outputs, dim=1), memory


def patchify(values: torch.Tensor, patch_len: int, stride: int) -> torch.Tensor:
    """(C, T) -> (C, N, P) with N = (T - P) // stride + 1 (0 when T < P)."""
    if values.shape[-1] < patch_len:
        return values.new_zeros(values.shape[0], 0, patch_len)
    return values.unfold(-1, patch_len, stride)


@dataclass(frozen=True)
class StreamState:
    """Everything needed to continue a stream: the memory, unconsumed rows and the last output.

    `buffer` holds the scaled rows from the start of the next token onward; `last_forecast`
    is the head output of the newest complete token, `lag` the rows seen since that token ended.
    """

    memory: Memory
    buffer: torch.Tensor  # (C, n) scaled rows not yet covered by a complete token
    n_rows: int  # rows consumed since the grid anchor
    last_forecast: torch.Tensor | None  # (C, F)
    lag: int

    def to_tensors(self) -> dict[str, torch.Tensor]:
        out = {"buffer": self.buffer, "n_rows": torch.tensor([self.n_rows, self.lag])}
        for i, (m, p) in enumerate(zip(self.memory.mems, self.memory.prefix)):
            out[f"mems.{i}"], out[f"prefix.{i}"] = m, p
        if self.last_forecast is not None:
            out["last_forecast"] = self.last_forecast
        return out

    @classmethod
    def from_tensors(cls, t: dict[str, torch.Tensor], n_layers: int) -> StreamState:
        memory = Memory(
            mems=tuple(t[f"mems.{i}"] for i in range(n_layers)),
            prefix=tuple(t[f"prefix.{i}"] for i in range(n_layers)),
        )
        n_rows, lag = (int(v) for v in t["n_rows"])
        return cls(memory, t["buffer"], n_rows, t.get("last_forecast"), lag)


class Stream:
    """Feeds scaled rows of a C-channel series through a `TXLNet`, token by token."""

    def __init__(self, net: TXLNet, patch_len: int, stride: int, segment_len: int, mem_len: int):
        self.net, self.patch_len, self.stride = net, patch_len, stride
        self.segment_len, self.mem_len = segment_len, mem_len

    def start(self, n_channels: int) -> StreamState:
        device = self.net.head.weight.device
        return StreamState(
            memory=Memory.empty(self.net, n_channels, device),
            buffer=torch.zeros(n_channels, 0, device=device),
            n_rows=0, last_forecast=None, lag=0,
        )

    @torch.inference_mode()
    def feed(self, state: StreamState, rows: np.ndarray) -> tuple[torch.Tensor, StreamState]:
        """Absorb new scaled rows (T, C). Returns the new tokens' forecasts (N, C, F).

        The cost is O(new rows): only tokens completed by these rows are computed.
        `state` is not modified; the advanced state is returned. Runs under inference mode
        (about 10% less per-op overhead than no_grad for a one-token step): the returned
        tensors are inference tensors, fine to read, copy and save, never to train through.
        """
        device = state.buffer.device
        new = torch.as_tensor(rows.T, dtype=torch.float32, device=device)
        # the carried buffer holds fewer than patch_len rows, so this copy stays small
        buffer = torch.cat([state.buffer, new], dim=1)  # (C, n)
        if buffer.shape[1] < self.patch_len:
            # fast path: no token completes, so the network and the memory are not touched;
            # the last forecast stays, `rows.shape[0]` more rows lag behind it
            empty = buffer.new_zeros(0, buffer.shape[0], self.net.head.out_features)
            return empty, replace(state, buffer=buffer, n_rows=state.n_rows + rows.shape[0],
                                  lag=state.lag + rows.shape[0])
        patches = patchify(buffer, self.patch_len, self.stride)  # (C, N, P)
        n_new = patches.shape[1]
        channel_ids = torch.arange(buffer.shape[0], device=device)
        was_training = self.net.training
        if was_training:  # toggling walks every module: skip it when already in eval mode
            self.net.eval()
        try:
            forecasts, memory = advance(
                self.net, state.memory, patches, channel_ids, self.segment_len, self.mem_len
            )
        finally:
            if was_training:
                self.net.train()
        n_rows = state.n_rows + rows.shape[0]  # n_new >= 1 here
        consumed = n_new * self.stride
        lag = buffer.shape[1] - ((n_new - 1) * self.stride + self.patch_len)
        # clone the small leftovers: views would keep the whole joined buffer and every new
        # token's forecast alive (after fit: the full history) inside each later state
        last = forecasts[:, -1].clone() if n_new > 1 else forecasts[:, -1]
        new_state = replace(
            state, memory=memory, buffer=buffer[:, consumed:].clone(), n_rows=n_rows,
            last_forecast=last, lag=lag,
        )
        return forecasts.transpose(0, 1), new_state
