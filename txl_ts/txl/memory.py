"""Segment-level recurrence: advancing Transformer-XL's memory, and streams of rows.

Segments are fixed blocks of `segment_len` consecutive tokens of the grid (`TokenGrid`). A token
attends to the memory (the `mem_len` layer inputs that precede its segment) and to the earlier
tokens of its own segment. Because that rule does not depend on how the tokens arrive, feeding
a stream in any chunks gives the same outputs as one pass over it.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import pandas as pd
import torch

from .config import TXLConfig
from .covariates import covariate_rows, horizon_rows, recent_level
from .grid import TokenGrid
from .net import TXLNet


@dataclass(frozen=True)
class Memory:
    """Per-layer cached layer inputs: `mems` before the current segment, `prefix` inside it.

    `kv` optionally caches each layer's keys/values of [mems ; prefix] (`TXLNet.keys_values`),
    which the one-token step extends instead of projecting the whole context again. It is
    derived from the layer inputs and the weights (as the layer inputs are from the weights),
    never saved, and None wherever a step has not computed it.
    """

    mems: tuple[torch.Tensor, ...]  # n_layers x (B, <= mem_len, D), detached
    prefix: tuple[torch.Tensor, ...]  # n_layers x (B, < segment_len, D)
    kv: tuple[torch.Tensor, ...] | None = None  # n_layers x (B, M + P, 2D)

    @classmethod
    def empty(cls, net: TXLNet, batch: int, device: torch.device | None = None) -> Memory:
        ctx = tuple(net.empty_context(batch, device))
        return cls(mems=ctx, prefix=ctx)

    @property
    def n_prefix(self) -> int:
        return self.prefix[0].shape[1]

    def contexts(self) -> list[torch.Tensor]:
        """Each layer's context (B, M + P, D) for the next token: memory, then prefix."""
        return [torch.cat([m, p], dim=1) for m, p in zip(self.mems, self.prefix)]


def advance(
    net: TXLNet, memory: Memory, windows: torch.Tensor, channel_ids: torch.Tensor,
    segment_len: int, mem_len: int, one_token: bool = True,
    covariates: torch.Tensor | None = None,
) -> tuple[torch.Tensor, Memory]:
    """Run new tokens through the network, respecting segment boundaries.

    windows: (B, N, R) each token's rows; covariates: (B or 1, N, K * P) each token's
    covariate rows (None without covariates). Returns the token outputs (B, N, F [+ E]) and
    the advanced memory. Memory carried past a segment boundary is detached: no gradient flows into
    earlier segments. A lone token in eval mode without autograd (streaming) takes
    `TXLNet.step`, which gives the same outputs up to float rounding; `one_token=False` runs
    every chunk through `TXLNet.forward` (the reference the fast step is tested against).
    """
    outputs = []
    start = 0
    n_tokens = windows.shape[1]
    fast = one_token and not (net.training or torch.is_grad_enabled())
    while start < n_tokens:
        stop = start + min(n_tokens - start, segment_len - memory.n_prefix)
        cov = None if covariates is None else covariates[:, start:stop]
        if fast and stop - start == 1:
            kv = memory.kv if memory.kv is not None else net.keys_values(memory.contexts())
            out, layer_inputs, kv = net.step(windows[:, start:stop], channel_ids, kv, cov)
            out, layer_inputs = out[:, None], [x[:, None] for x in layer_inputs]
        else:
            out, layer_inputs = net(windows[:, start:stop], channel_ids, memory.contexts(),
                                    cov)
            kv = None
        outputs.append(out)
        prefix = tuple(torch.cat([p, x], dim=1) for p, x in zip(memory.prefix, layer_inputs))
        if prefix[0].shape[1] == segment_len:  # segment complete: roll it into the memory
            mems = tuple(
                torch.cat([m, p], dim=1)[:, max(0, m.shape[1] + p.shape[1] - mem_len):].detach()
                for m, p in zip(memory.mems, prefix)
            )
            # detached too: an empty slice still links to this segment's graph
            prefix = tuple(p[:, :0].detach() for p in prefix)
            if kv is not None:  # keep the keys/values of the tokens kept in memory
                kv = tuple(t[:, t.shape[1] - m.shape[1]:] for t, m in zip(kv, mems))
        else:
            mems = memory.mems
        memory = Memory(mems=mems, prefix=prefix, kv=None if kv is None else tuple(kv))
        start = stop
    if not outputs:
        b = windows.shape[0]
        return windows.new_zeros(b, 0, net.config.token_out), memory
    return torch.cat(outputs, dim=1), memory


def token_windows(padded: torch.Tensor, grid: TokenGrid, token_rows: int,
                  first_end: int, n_tokens: int) -> torch.Tensor:
    """(C, T) rows -> (C, n_tokens, token_rows) windows of tokens ending at column
    `first_end`, `first_end + stride`, ... (a view, no copy)."""
    if n_tokens <= 0:
        return padded.new_zeros(padded.shape[0], 0, token_rows)
    start = first_end - token_rows
    stop = first_end + (n_tokens - 1) * grid.stride
    return padded[..., start:stop].unfold(-1, token_rows, grid.stride)


@dataclass(frozen=True)
class StreamState:
    """Everything needed to continue a stream and forecast from its end.

    `buffer` holds the last `context` rows (scaled, padded at the stream's start): enough for
    the next tokens' windows and for the linear path at the current origin; `covariates` the
    covariate rows of the same stretch, which the next tokens read. `last_head` is the output
    of the newest complete token.
    """

    memory: Memory
    buffer: torch.Tensor  # (C, context) scaled rows ending at the newest row; (C, 0) if none
    n_rows: int  # rows consumed since the grid anchor
    last_head: torch.Tensor | None  # (C, F [+ E])
    covariates: torch.Tensor | None = None  # (K, context) like `buffer`; None without any

    def to_tensors(self) -> dict[str, torch.Tensor]:
        # memory.kv is derived (recomputed by the next one-token step), so it is not saved
        out = {"buffer": self.buffer, "n_rows": torch.tensor([self.n_rows])}
        if self.covariates is not None:
            out["covariates"] = self.covariates
        for i, (m, p) in enumerate(zip(self.memory.mems, self.memory.prefix)):
            out[f"mems.{i}"], out[f"prefix.{i}"] = m, p
        if self.last_head is not None:
            out["last_head"] = self.last_head
        return out

    @classmethod
    def from_tensors(cls, t: dict[str, torch.Tensor], n_layers: int) -> StreamState:
        memory = Memory(
            mems=tuple(t[f"mems.{i}"] for i in range(n_layers)),
            prefix=tuple(t[f"prefix.{i}"] for i in range(n_layers)),
        )
        return cls(memory, t["buffer"], int(t["n_rows"][0]), t.get("last_head"),
                   t.get("covariates"))


@dataclass(frozen=True)
class TXLState:
    """The streaming state of a fitted `TXLForecaster`, as returned by `get_state`: the stream
    and the last timestamp it has absorbed."""

    stream: StreamState
    last_timestamp: pd.Timestamp


class Stream:
    """Feeds scaled rows of a C-channel series through a `TXLNet`, token by token."""

    def __init__(self, net: TXLNet, grid: TokenGrid, segment_len: int, mem_len: int,
                 one_token: bool = True):
        self.net, self.grid = net, grid
        self.segment_len, self.mem_len = segment_len, mem_len
        self.one_token = one_token  # lone tokens take `TXLNet.step` (see `advance`)

    def start(self, n_channels: int) -> StreamState:
        weight = self.net.head.weight  # the stream computes in the network's device and dtype
        k = self.net.config.n_covariates
        return StreamState(
            memory=Memory.empty(self.net, n_channels, weight.device),
            buffer=weight.new_zeros(n_channels, 0), n_rows=0, last_head=None,
            covariates=weight.new_zeros(k, 0) if k else None,
        )

    @torch.inference_mode()
    def feed(self, state: StreamState, rows: np.ndarray, x: np.ndarray | None = None
             ) -> tuple[torch.Tensor, StreamState]:
        """Absorb new scaled rows (T, C) with their covariates `x` (T, K) (every column known:
        these are history rows). Returns the new tokens' outputs (N, C, F [+ E]).

        The cost is O(new rows): only tokens completed by these rows are computed, and only
        the last `context` rows are kept. `state` is not modified; the new state is returned.
        A row that completes one token runs `TXLNet.step` (see `advance`).
        Runs under inference mode (less per-op overhead than no_grad for a one-token step):
        the returned tensors are inference tensors, fine to read, copy and save, never to
        train through.
        """
        grid = self.grid
        device = state.buffer.device
        new = torch.as_tensor(rows.T, dtype=self.net.head.weight.dtype, device=device)
        if state.n_rows == 0:
            buffer = grid.pad(new)  # (C, context + T)
        else:
            buffer = torch.cat([state.buffer, new], dim=1)  # (C, context + T)
        n_rows = state.n_rows + rows.shape[0]
        old, total = grid.n_tokens(state.n_rows), grid.n_tokens(n_rows)
        # clone the kept rows and the last head output: views would keep the whole joined
        # buffer and every new token's output alive (after fit: the full history) in the state
        kept = buffer[:, -grid.context :].clone()
        x_buffer = kept_x = None
        if state.covariates is not None:  # the same rows of the covariates, (K, context + T)
            new_x = torch.as_tensor(x.T, dtype=new.dtype, device=device)
            x_buffer = (grid.pad(new_x) if state.n_rows == 0
                        else torch.cat([state.covariates, new_x], dim=1))
            kept_x = x_buffer[:, -grid.context :].clone()
        if total == old:
            # fast path: no token completes, so the network and the memory are not touched
            empty = buffer.new_zeros(0, buffer.shape[0], self.net.config.token_out)
            return empty, replace(state, buffer=kept, n_rows=n_rows, covariates=kept_x)
        first_row = n_rows - buffer.shape[1]  # stream row of buffer column 0
        first_end = grid.end(old) - first_row
        windows = token_windows(buffer, grid, self.net.config.token_rows,
                                first_end, total - old)  # (C, N, R)
        covariates = (None if x_buffer is None  # (1, N, K * P): the same for every channel
                      else covariate_rows(x_buffer, grid, first_end, total - old)[None])
        channel_ids = torch.arange(buffer.shape[0], device=device)
        was_training = self.net.training
        if was_training:  # toggling walks every module: skip it when already in eval mode
            self.net.eval()
        try:
            heads, memory = advance(
                self.net, state.memory, windows, channel_ids, self.segment_len, self.mem_len,
                one_token=self.one_token, covariates=covariates,
            )
        finally:
            if was_training:
                self.net.train()
        last = heads[:, -1].clone() if total - old > 1 else heads[:, -1]
        new_state = replace(state, memory=memory, buffer=kept, n_rows=n_rows, last_head=last,
                            covariates=kept_x)
        return heads.transpose(0, 1), new_state

    @torch.no_grad()
    def forecast(self, state: StreamState, x_future: np.ndarray | None = None) -> torch.Tensor:
        """(C, H) forecast after the stream's newest row (scaled units), given the horizon's
        covariates `x_future` (H, K) (only the future-known columns are read)."""
        _, lag = self.grid.newest(state.n_rows)
        residual = state.last_head[:, lag : lag + self.grid.horizon]
        effect = None
        config = self.net.config
        if config.n_future:
            head = state.last_head  # (C, F + E)
            future = torch.as_tensor(x_future[:, config.n_past :], dtype=head.dtype,
                                     device=head.device)  # (H, Kf)
            level = recent_level(state.covariates[config.n_past :].T, config.norm_window)
            n = head.shape[0]  # every channel reads the same covariates
            lags = torch.full((n,), lag, device=head.device)
            effect = self.net.future_effect(head, lags, future.expand(n, -1, -1),
                                            level.expand(n, -1))
        return self.net.forecast(state.buffer, residual, effect)


@torch.no_grad()
def forecasts_at(net: TXLNet, grid: TokenGrid, heads: torch.Tensor, padded: torch.Tensor,
                 origins: np.ndarray, chunk: int = 1024,
                 future: torch.Tensor | None = None) -> torch.Tensor:
    """Forecasts (n, C, H) from every origin, given every token's output (N, C, F [+ E]) and
    the padded series (C, context + T). Equals `Stream.forecast` after `origins[i]` rows.
    With future covariates, `future` (T', Kf) holds their rows (unpadded: origin o reads
    rows o .. o + H - 1, so T' >= max(origins) + H)."""
    out = []
    if future is not None:  # padded like the series: origin o's recent rows end at o + context
        past = torch.cat([future[:1].expand(grid.context, -1), future]).T  # (Kf, context + T')
        recent = past.unfold(-1, net.config.norm_window, 1)  # (Kf, ., norm_window)
    steps = torch.arange(grid.horizon, device=heads.device)
    for lo in range(0, len(origins), chunk):
        o = torch.as_tensor(origins[lo : lo + chunk], device=heads.device)
        token, lag = grid.newest(o)
        picked = heads[token]  # (n, C, F [+ E])
        index = (lag[:, None] + steps)[:, None, :].expand(-1, picked.shape[1], -1)
        residual = torch.gather(picked, 2, index)  # (n, C, H)
        # origin o reads padded columns [o, o + context): the `context` rows before it
        look = padded.unfold(-1, grid.context, 1)[:, o].transpose(0, 1)  # (n, C, N)
        effect = None
        if future is not None:
            c = picked.shape[1]  # every channel reads the same covariates
            x_future = horizon_rows(future, o, grid.horizon)[:, None]  # (n, 1, H, Kf)
            start = o + grid.context - net.config.norm_window
            level = recent_level(recent[:, start].permute(1, 2, 0), net.config.norm_window)
            effect = net.future_effect(picked, lag[:, None].expand(-1, c),
                                       x_future.expand(-1, c, -1, -1), level[:, None].expand(
                                           -1, c, -1))  # (n, C, H)
        out.append(net.forecast(look, residual, effect))
    return torch.cat(out) if out else padded.new_zeros(0, padded.shape[0], grid.horizon)


@torch.no_grad()
def forecast_many(net: TXLNet, grid: TokenGrid, states: list[StreamState],
                  x_futures: list[np.ndarray]) -> list[np.ndarray]:
    """`Stream.forecast` of many series' states in one batched read (S series of C channels
    as S * C rows); each state must hold a complete token. Returns S arrays (H, C)."""
    config = net.config
    c, horizon = states[0].buffer.shape[0], grid.horizon
    heads = torch.cat([s.last_head for s in states])  # (S C, F [+ E])
    lags = torch.as_tensor([grid.newest(s.n_rows)[1] for s in states],
                           device=heads.device).repeat_interleave(c)  # (S C,)
    residual = heads.gather(1, lags[:, None] + torch.arange(horizon, device=heads.device))
    effect = None
    if config.n_future:  # every channel of a series reads that series' covariates
        future = torch.as_tensor(np.stack([x[:, config.n_past :] for x in x_futures]),
                                 dtype=heads.dtype, device=heads.device)  # (S, H, Kf)
        level = torch.stack([recent_level(s.covariates[config.n_past :].T,
                                          config.norm_window) for s in states])
        effect = net.future_effect(heads, lags, future.repeat_interleave(c, 0),
                                   level.repeat_interleave(c, 0))
    buffers = torch.cat([s.buffer for s in states])  # (S C, context)
    out = net.forecast(buffers, residual, effect).double().cpu().numpy()  # (S C, H)
    return list(out.reshape(len(states), c, horizon).transpose(0, 2, 1))  # S x (H, C)


def check_stream_state(stream: object, name: str, config: TXLConfig, grid: TokenGrid,
                       dtype: torch.dtype) -> None:
    """Raise ValueError unless `stream` is a state of a network of `config` on `grid` whose
    tensors are `dtype`: its layers, channels, sizes and values (a state kept from
    `get_state` of another model, or built by hand, is checked before it is used)."""
    c, d = config.n_channels, config.d_model

    def bad(what: str) -> ValueError:
        return ValueError(f"{name} does not match this model's layers, columns ({c}), "
                          f"d_model or sizes: {what}")

    if not isinstance(stream, StreamState) or not isinstance(stream.memory, Memory):
        raise bad(f"expected a StreamState, got {type(stream).__name__}")
    mem = stream.memory
    tensors = [*mem.mems, *mem.prefix, *(mem.kv or ()), stream.buffer, stream.last_head]
    wrong = {str(t.dtype) for t in tensors if isinstance(t, torch.Tensor) and t.dtype != dtype}
    if wrong:
        raise bad(f"tensors of dtype {', '.join(sorted(wrong))}, expected the network's "
                  f"{dtype}")
    if len(mem.mems) != config.n_layers or len(mem.prefix) != config.n_layers:
        raise bad(f"{len(mem.mems)} memory layers, expected n_layers={config.n_layers}")
    for group, limit in ((mem.mems, config.mem_len + 1), (mem.prefix, config.segment_len)):
        for t in group:
            if (not isinstance(t, torch.Tensor) or t.ndim != 3 or t.shape[0] != c
                    or t.shape[1] >= limit or t.shape[2] != d
                    or t.shape[1] != group[0].shape[1] or not t.is_floating_point()
                    or not bool(torch.isfinite(t).all())):
                raise bad(f"memory tensor of shape {tuple(getattr(t, 'shape', ()))}, "
                          f"expected ({c}, < {limit}, {d}) finite floats")
    if mem.kv is not None:  # the one-token step's cached keys/values of the context
        width = mem.mems[0].shape[1] + mem.prefix[0].shape[1]
        if not isinstance(mem.kv, tuple) or len(mem.kv) != config.n_layers or any(
                not isinstance(t, torch.Tensor) or tuple(t.shape) != (c, width, 2 * d)
                or not bool(torch.isfinite(t).all()) for t in mem.kv):
            raise bad(f"cached keys/values, expected {config.n_layers} x ({c}, {width}, "
                      f"{2 * d}) finite values")
    buf, last = stream.buffer, stream.last_head
    width = 0 if stream.n_rows == 0 else grid.context
    k, cov = config.n_covariates, stream.covariates
    if (cov is not None or k) and (
            not isinstance(cov, torch.Tensor) or tuple(cov.shape) != (k, width)
            or cov.dtype != dtype or not bool(torch.isfinite(cov).all())):
        raise bad(f"covariate rows of shape {tuple(getattr(cov, 'shape', ()))}, expected "
                  f"({k}, {width}) finite values of dtype {dtype}")
    if (not isinstance(buf, torch.Tensor) or buf.ndim != 2 or buf.shape[0] != c
            or buf.shape[1] != width or not bool(torch.isfinite(buf).all())):
        raise bad(f"buffer of shape {tuple(getattr(buf, 'shape', ()))}, expected "
                  f"({c}, {width}) finite values (the last rows the stream keeps)")
    f_len = config.token_out
    if last is not None and (
            not isinstance(last, torch.Tensor) or tuple(last.shape) != (c, f_len)
            or not bool(torch.isfinite(last).all())):
        raise bad(f"last head output of shape {tuple(getattr(last, 'shape', ()))}, "
                  f"expected ({c}, {f_len}) finite values")
    if not (isinstance(stream.n_rows, int) and stream.n_rows >= 0
            and (last is None) == (stream.n_rows < config.patch_len)):
        raise bad(f"n_rows={stream.n_rows!r}")
