"""The Transformer-XL forecasting network: patch tokens, relative attention with memory, head.

Shapes: B streams (one per series channel, channels are independent), L tokens in the current
segment, M tokens of cached context per layer, K = M + L keys, D = d_model, P = patch_len,
F = forecast length of the head.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn


class PatchEmbedding(nn.Module):
    """Maps each patch of P values to a D-dim token, plus a learned per-channel embedding.

    Patches are centred on their last value (the forecast origin), so the network sees shapes,
    not levels; the head adds the level back. This keeps forecasts sane under level shifts.
    """

    def __init__(self, patch_len: int, d_model: int, n_channels: int, dropout: float):
        super().__init__()
        self.value = nn.Linear(patch_len, d_model)
        self.level = nn.Linear(1, d_model)
        self.channel = nn.Embedding(n_channels, d_model)
        self.drop = nn.Dropout(dropout)

    def forward(self, patches: torch.Tensor, channel_ids: torch.Tensor) -> torch.Tensor:
        # patches: (B, L, P); channel_ids: (B,)
        anchor = patches[..., -1:]  # (B, L, 1)
        x = self.value(patches - anchor) + self.level(anchor) + self.channel(channel_ids)[:, None]
        return self.drop(x)


class RelativePositionalEncoding(nn.Module):
    """Sinusoidal encodings of relative distances K-1, K-2, ..., 0 (Transformer-XL, Sec. 3.3)."""

    def __init__(self, d_model: int):
        super().__init__()
        inv_freq = 1.0 / (10000 ** (torch.arange(0, d_model, 2, dtype=torch.float32) / d_model))
        self.register_buffer("inv_freq", inv_freq, persistent=False)

    def forward(self, klen: int) -> torch.Tensor:
        distance = torch.arange(klen - 1, -1, -1.0, device=self.inv_freq.device)
        angles = distance[:, None] * self.inv_freq[None, :]
        return torch.cat([angles.sin(), angles.cos()], dim=-1)  # (K, D)


def _rel_shift(x: torch.Tensor) -> torch.Tensor:
    """Realign scores from "key index k holds distance K-1-k" to "key j is at distance M+i-j".

    x: (B, H, L, K). Entries with j > M + i (the future) come out as garbage and must be masked.
    """
    b, h, qlen, klen = x.shape
    padded = F.pad(x, (1, 0))  # (B, H, L, K+1)
    padded = padded.view(b, h, klen + 1, qlen)
    return padded[:, :, 1:].view(b, h, qlen, klen)


class RelativeMultiHeadAttention(nn.Module):
    """Multi-head attention over [context ; segment] with relative positions and biases u, v.

    score(i, j) = (q_i + u) . k_j  +  (q_i + v) . W_r R_{M+i-j}
    """

    def __init__(self, d_model: int, n_heads: int, dropout: float):
        super().__init__()
        self.n_heads, self.d_head = n_heads, d_model // n_heads
        self.query = nn.Linear(d_model, d_model, bias=False)
        self.key_value = nn.Linear(d_model, 2 * d_model, bias=False)
        self.pos_key = nn.Linear(d_model, d_model, bias=False)  # W_r
        self.r_w_bias = nn.Parameter(torch.empty(n_heads, self.d_head))  # u: content bias
        self.r_r_bias = nn.Parameter(torch.empty(n_heads, self.d_head))  # v: position bias
        self.out = nn.Linear(d_model, d_model)
        self.attn_drop = nn.Dropout(dropout)
        self.scale = 1.0 / math.sqrt(self.d_head)

    def logits(
        self, x: torch.Tensor, context: torch.Tensor, pos: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Masked attention logits (B, H, L, K) and the values (B, K, H, dh)."""
        # x: (B, L, D) segment; context: (B, M, D) memory, already normalised; pos: (K, D)
        b, qlen, _ = x.shape
        mlen = context.shape[1]
        klen = mlen + qlen
        h, dh = self.n_heads, self.d_head
        q = self.query(x).view(b, qlen, h, dh)
        k, v = self.key_value(torch.cat([context, x], dim=1)).view(b, klen, 2, h, dh).unbind(2)
        r = self.pos_key(pos).view(klen, h, dh)

        content = torch.einsum("bihd,bjhd->bhij", q + self.r_w_bias, k)  # (B, H, L, K)
        position = _rel_shift(torch.einsum("bihd,jhd->bhij", q + self.r_r_bias, r))
        scores = (content + position) * self.scale
        # Query i sits at absolute position M + i: it may see keys 0 .. M + i.
        future = torch.ones(qlen, klen, dtype=torch.bool, device=x.device).triu(mlen + 1)
        return scores.masked_fill(future, float("-inf")), v

    def forward(self, x: torch.Tensor, context: torch.Tensor, pos: torch.Tensor) -> torch.Tensor:
        scores, v = self.logits(x, context, pos)
        attn = self.attn_drop(scores.softmax(dim=-1))
        y = torch.einsum("bhij,bjhd->bihd", attn, v)
        return self.out(y.reshape(x.shape[0], x.shape[1], -1))


class TXLBlock(nn.Module):
    """Pre-LayerNorm Transformer-XL layer: relative attention over memory, then an MLP."""

    def __init__(self, d_model: int, n_heads: int, d_ff: int, dropout: float):
        super().__init__()
        self.norm_attn = nn.LayerNorm(d_model)
        self.attn = RelativeMultiHeadAttention(d_model, n_heads, dropout)
        self.norm_ff = nn.LayerNorm(d_model)
        self.ff = nn.Sequential(
            nn.Linear(d_model, d_ff), nn.GELU(), nn.Dropout(dropout), nn.Linear(d_ff, d_model)
        )
        self.drop = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor, context: torch.Tensor, pos: torch.Tensor) -> torch.Tensor:
        x = x + self.drop(self.attn(self.norm_attn(x), self.norm_attn(context), pos))
        return x + self.drop(self.ff(self.norm_ff(x)))


class TXLNet(nn.Module):
    """Patch embedding -> Transformer-XL layers with per-layer context -> forecast head.

    `forward` processes one segment given each layer's context (its memory plus any earlier
    tokens of the same segment) and returns the forecasts and each layer's input, which the
    caller turns into the next memory. Memory bookkeeping lives in `txl_ts.memory`.
    """

    def __init__(
        self, *, patch_len: int, n_channels: int, forecast_len: int, d_model: int,
        n_heads: int, n_layers: int, d_ff: int, dropout: float,
    ):
        super().__init__()
        self.embed = PatchEmbedding(patch_len, d_model, n_channels, dropout)
        self.pos = RelativePositionalEncoding(d_model)
        self.pos_drop = nn.Dropout(dropout)
        self.layers = nn.ModuleList(
            TXLBlock(d_model, n_heads, d_ff, dropout) for _ in range(n_layers)
        )
        self.norm = nn.LayerNorm(d_model)
        self.head = nn.Linear(d_model, forecast_len)
        self.d_model, self.n_layers = d_model, n_layers
        self.apply(self._init_weights)
        for layer in self.layers:
            nn.init.normal_(layer.attn.r_w_bias, std=0.02)
            nn.init.normal_(layer.attn.r_r_bias, std=0.02)

    @staticmethod
    def _init_weights(module: nn.Module) -> None:
        if isinstance(module, nn.Linear):
            nn.init.normal_(module.weight, std=0.02)
            if module.bias is not None:
                nn.init.zeros_(module.bias)
        elif isinstance(module, nn.Embedding):
            nn.init.normal_(module.weight, std=0.02)

    def forward(
        self, patches: torch.Tensor, channel_ids: torch.Tensor, contexts: list[torch.Tensor]
    ) -> tuple[torch.Tensor, list[torch.Tensor]]:
        # patches: (B, L, P); contexts: n_layers x (B, M, D), M may be 0
        x = self.embed(patches, channel_ids)
        pos = self.pos_drop(self.pos(contexts[0].shape[1] + x.shape[1]))
        layer_inputs = []
        for layer, context in zip(self.layers, contexts):
            layer_inputs.append(x)
            x = layer(x, context, pos)
        forecast = self.head(self.norm(x)) + patches[..., -1:]  # (B, L, F), level added back
        return forecast, layer_inputs

    def empty_context(self, batch: int, device: torch.device | None = None) -> list[torch.Tensor]:
        device = device or self.head.weight.device
        return [torch.zeros(batch, 0, self.d_model, device=device) for _ in range(self.n_layers)]
