"""The one-token step of streaming: `TXLNet.forward` for one new token per channel, in eval mode.

A streaming update that completes a patch runs the network for a single token. At that size a
torch op costs a few microseconds whatever its arithmetic, so this step is written for few
ops, on weights folded once per weight version (`fold`):

- without `scale` the token embedding is linear in the token's rows, apart from the clamp
  on the level change: the patch, its centring and the level change become one matmul;
- the query, its biases u and v and the score scale share one projection with the keys and
  values: x_norm @ [W_kv ; W_q / r ; W_q / r] + [0 ; u / r ; v / r], r = sqrt(d_head);
- a layer's context enters as its keys/values (`TXLNet.keys_values`), carried from step to
  step, so earlier tokens are never projected again;
- the one query sees every key, at distances K-1, ..., 0: the order of the relative
  encodings, so there is no mask and no relative shift.

The numbers equal `forward`'s up to float rounding (tests/txl/test_model.py).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Protocol

import torch
import torch.nn.functional as F
from torch import nn

from .config import TXLConfig


class StepNet(Protocol):
    """What `fold` and `step` read of a `txl_ts.txl.net.TXLNet`. Named structurally, because
    the network imports this module for its `step` method: a plain import back would make
    the two modules a cycle."""

    config: TXLConfig
    value: nn.Linear  # the patch embedding
    change: nn.Linear  # the level / log-scale change embedding
    channel: nn.Embedding
    embed: nn.Module  # the token embedding's dropout (identity in eval mode)
    pos: nn.Module  # the relative positional encoding: klen -> (K, D)
    layers: nn.ModuleList  # the `TXLBlock`s
    norm: nn.LayerNorm
    head: nn.Linear
    covariates: nn.Linear | None  # a token's covariate rows -> D (None without covariates)
    context: nn.Linear | None  # the future-covariate encoder's context (None without)

    def _embed(self, windows: torch.Tensor, channel: torch.Tensor) -> torch.Tensor: ...


Affine = tuple[torch.Tensor, torch.Tensor]  # (in, out) weight, transposed for addmm; (out,) bias


def _affine(linear: torch.nn.Linear) -> Affine:
    return linear.weight.detach().T.contiguous(), linear.bias.detach()


@dataclass(frozen=True)
class LayerWeights:
    norm_attn: tuple[torch.Tensor, torch.Tensor]
    project: Affine  # (D, 4D): x_norm -> [keys, values, (q + u) / s, (q + v) / s]
    out: Affine  # (D, D)
    norm_ff: tuple[torch.Tensor, torch.Tensor]
    up: Affine  # (D, d_ff)
    down: Affine  # (d_ff, D)
    pos_key: torch.Tensor  # (D, D) W_r


@dataclass(frozen=True)
class StepWeights:
    """The network's weights arranged for `step`: derived, inference only, never saved."""

    embed: torch.Tensor | None  # (R, D + 1): token rows -> [embedding, level change]; None
    # with `scale` (then the embedding divides by the std: not linear in the rows)
    channel_bias: torch.Tensor  # (C, D) channel embedding + the embedding's biases
    change_level: torch.Tensor  # (D,) weight of the (clamped) level change
    layers: tuple[LayerWeights, ...]
    norm: tuple[torch.Tensor, torch.Tensor]
    head: Affine  # (D, F [+ E]): the residuals, then the future-covariate encoder's context
    covariates: Affine | None  # (K * P, D) a token's covariate rows; None without covariates
    positions: dict[int, list[torch.Tensor]] = field(default_factory=dict)  # see `positions`


def fold(net: StepNet) -> StepWeights:
    """Arrange `net`'s current weights for `step` (a few small matmuls, once per version)."""
    c = net.config
    d, rows = c.d_model, c.token_rows
    scale = 1.0 / math.sqrt(d // c.n_heads)
    with torch.no_grad():
        embed = None
        if not c.scale:
            # value(patch - mu) + change([mu - mu_prev, 0]), with mu and mu_prev the means of
            # the last `norm_window` rows before the token's end and before the previous end
            value = net.value.weight  # (D, P)
            now, prev = value.new_zeros(rows), value.new_zeros(rows)
            now[rows - c.norm_window :] = 1.0 / c.norm_window
            prev[rows - c.stride - c.norm_window : rows - c.stride] = 1.0 / c.norm_window
            patch = value.new_zeros(rows, d)
            patch[rows - c.patch_len :] = value.T
            patch -= now[:, None] * value.sum(1)[None, :]
            embed = torch.cat([patch, (now - prev)[:, None]], dim=1)
        layers = []
        for layer in net.layers:
            attn = layer.attn
            query = attn.query.weight * scale
            project = torch.cat([attn.key_value.weight, query, query]).T.contiguous()
            bias = torch.cat([torch.zeros_like(attn.key_value.weight[:, 0]),
                              attn.r_w_bias.reshape(d) * scale, attn.r_r_bias.reshape(d) * scale])
            up, _, _, down = layer.ff  # Linear, GELU, Dropout, Linear
            layers.append(LayerWeights(
                norm_attn=(layer.norm_attn.weight.detach(), layer.norm_attn.bias.detach()),
                project=(project, bias), out=_affine(attn.out),
                norm_ff=(layer.norm_ff.weight.detach(), layer.norm_ff.bias.detach()),
                up=_affine(up), down=_affine(down), pos_key=attn.pos_key.weight.detach(),
            ))
        return StepWeights(
            embed=embed,
            channel_bias=net.channel.weight + net.value.bias + net.change.bias,
            change_level=net.change.weight[:, 0].detach().clone(),
            layers=tuple(layers), norm=(net.norm.weight.detach(), net.norm.bias.detach()),
            head=_head(net),
            covariates=None if net.covariates is None else _affine(net.covariates),
        )


def _head(net: StepNet) -> Affine:
    """`TXLNet.token_output` as one affine map: the head, then the context rows if any."""
    if net.context is None:
        return _affine(net.head)
    weight = torch.cat([net.head.weight, net.context.weight]).detach()
    return weight.T.contiguous(), torch.cat([net.head.bias, net.context.bias]).detach()


def positions(net: StepNet, weights: StepWeights, klen: int) -> list[torch.Tensor]:
    """Per layer, W_r R for key length `klen` as (D, K * H), block-diagonal per head: then
    (q + v) @ r is (q_h + v_h) . W_r R_j for every key j and head h. Cached per `klen`."""
    cached = weights.positions.get(klen)
    if cached is None:
        pos = net.pos(klen)  # (K, D)
        h = net.config.n_heads
        eye = torch.eye(h, dtype=pos.dtype, device=pos.device)
        cached = weights.positions[klen] = [
            torch.einsum("khd,hg->hdkg", F.linear(pos, layer.pos_key).view(klen, h, -1), eye)
            .reshape(-1, klen * h) for layer in weights.layers]
    return cached


def step(
    net: StepNet, weights: StepWeights, windows: torch.Tensor, channel_ids: torch.Tensor,
    keys_values: list[torch.Tensor], covariates: torch.Tensor | None = None,
) -> tuple[torch.Tensor, list[torch.Tensor], list[torch.Tensor]]:
    """One new token per stream. windows: (B, 1, R); keys_values: n_layers x (B, M, 2D);
    covariates: (B or 1, 1, K * P) the token's covariate rows, None without covariates.
    Returns the token output (B, F [+ E]), each layer's input n_layers x (B, D) and the
    keys/values n_layers x (B, M + 1, 2D) extended by the new token."""
    d, h = net.config.d_model, net.config.n_heads
    if weights.embed is None:
        x = net._embed(windows, net.channel(channel_ids)[:, None], covariates)[:, 0]  # (B, D)
    else:
        # the embedding ignores the level, so rows are taken relative to the newest one
        # first: the folded sums would otherwise round at the scale of the level
        rows = windows[:, 0]
        z = (rows - rows[:, -1:]) @ weights.embed  # (B, D + 1)
        x = torch.addcmul(z[:, :d] + weights.channel_bias[channel_ids],
                          z[:, d:].clamp(-5.0, 5.0), weights.change_level)
        if covariates is not None:  # (B or 1, D), broadcast over the channels
            x = x + torch.addmm(weights.covariates[1], covariates[:, 0], weights.covariates[0])
        x = net.embed(x[:, None])[:, 0]  # identity in eval mode; hooks on `embed` see tokens
    rs = positions(net, weights, keys_values[0].shape[1] + 1)
    layer_inputs, extended = [], []
    for w, kv, r in zip(weights.layers, keys_values, rs):
        layer_inputs.append(x)
        p = torch.addmm(w.project[1], F.layer_norm(x, (d,), *w.norm_attn), w.project[0])
        kv_new, q_u, q_v = p.split([2 * d, d, d], dim=1)  # (B, 2D), (B, D), (B, D)
        kv = torch.cat([kv, kv_new.unsqueeze(1)], dim=1)  # (B, K, 2D)
        b, klen = kv.shape[:2]
        keys, values = kv.view(b, klen, 2, h, -1).unbind(2)  # (B, K, H, dh) each
        content = (q_u.view(b, 1, h, -1) * keys).sum(-1)  # (B, K, H)
        attn = (content + (q_v @ r).view(b, klen, h)).softmax(dim=1)  # over the keys
        y = (attn.unsqueeze(-1) * values).sum(1).view(b, d)
        x = x + torch.addmm(w.out[1], y, w.out[0])
        hidden = F.gelu(torch.addmm(w.up[1], F.layer_norm(x, (d,), *w.norm_ff), w.up[0]))
        x = x + torch.addmm(w.down[1], hidden, w.down[0])
        extended.append(kv)
    out = torch.addmm(weights.head[1], F.layer_norm(x, (d,), *weights.norm), weights.head[0])
    return out, layer_inputs, extended
