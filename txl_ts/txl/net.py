"""The Transformer-XL forecasting network: a seasonal linear path plus an attention residual.

Every number the network sees is normalised causally: a token by the mean and std of the
`norm_window` rows ending at its last row, a forecast by those of the rows ending at its
origin (RevIN over the last `norm_window` rows). Levels therefore never enter absolutely.

    forecast(origin) = mu + sigma * (linear(lookback rows, normalised) + head(newest token)[lag:])

The linear map starts as the seasonal naive (weight 1 on the row one season back) and the head
at zero, so an untrained network repeats the last season; training learns the residual.

Shapes: B streams (one per series channel, channels are independent), L tokens in the current
segment, M tokens of cached context per layer, K = M + L keys, D = d_model, P = patch_len,
R = token_rows (rows a token reads), F = forecast_len, H = horizon, N = lookback.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from .config import TXLConfig
from .covariates import FutureEffect, arx_features
from .step import StepWeights
from .step import fold as fold_step_weights
from .step import step as one_token_step

EPS = 1e-5  # variance floor, in globally scaled units: a flat stretch normalises to zeros


def norm_stats(x: torch.Tensor, norm_window: int, scale: bool
               ) -> tuple[torch.Tensor, torch.Tensor | None]:
    """mu, sigma over the last `norm_window` entries of the last dim; sigma None without
    `scale` (centring only: dividing by ones would be exact but costs ops)."""
    recent = x[..., -norm_window:]
    mu = recent.mean(-1, keepdim=True)
    if not scale:
        return mu, None
    return mu, (recent.var(-1, unbiased=False, keepdim=True) + EPS).sqrt()


def normalise(x: torch.Tensor, norm_window: int, scale: bool) -> tuple[torch.Tensor, ...]:
    """(x - mu) / sigma with mu, sigma over the last `norm_window` entries of the last dim;
    sigma = 1 without `scale` (centring only)."""
    mu, sigma = norm_stats(x, norm_window, scale)
    if sigma is None:
        return x - mu, mu, torch.ones_like(mu)
    return (x - mu) / sigma, mu, sigma


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

    def keys_values(self, context: torch.Tensor) -> torch.Tensor:
        """(B, M, D) layer inputs -> (B, M, 2D): what `step` reads of each context token."""
        return F.linear(self.norm_attn(context), self.attn.key_value.weight)


class TXLNet(nn.Module):
    """Normalised patch tokens -> Transformer-XL layers with per-layer context -> residual head,
    and the linear path that turns a residual into a forecast at an origin.

    `forward` processes one segment given each layer's context (its memory plus any earlier
    tokens of the same segment) and returns the head outputs (normalised units) and each
    layer's input, which the caller turns into the next memory (`txl_ts.txl.memory`).
    """

    def __init__(self, config: TXLConfig):
        super().__init__()
        c = self.config = config
        if not c.patch_len <= c.lookback:
            raise ValueError("patch_len must not exceed lookback")
        self.value = nn.Linear(c.patch_len, c.d_model)
        self.change = nn.Linear(2, c.d_model)  # level and log-scale change since the last token
        self.channel = nn.Embedding(c.n_channels, c.d_model)
        self.embed = nn.Dropout(c.dropout)  # the token embedding's output (hooks count tokens)
        self.pos = RelativePositionalEncoding(c.d_model)
        self.pos_drop = nn.Dropout(c.dropout)
        self.layers = nn.ModuleList(
            TXLBlock(c.d_model, c.n_heads, c.d_ff, c.dropout) for _ in range(c.n_layers)
        )
        self.norm = nn.LayerNorm(c.d_model)
        self.head = nn.Linear(c.d_model, c.forecast_len)
        self.linear = nn.Linear(c.lookback, c.horizon)
        # covariates (`txl_ts.txl.covariates`); none of these exist without them, so K = 0
        # builds (and initialises) exactly the network without covariates
        k = c.n_covariates
        self.covariates = nn.Linear(k * c.patch_len, c.d_model) if k else None  # KP -> D
        self.context = nn.Linear(c.d_model, c.context_width) if c.context_width else None
        self.future = FutureEffect(c) if c.n_future else None
        self.apply(self._init_weights)
        if self.future is not None:
            self.future.zero_correction()
        for layer in self.layers:
            nn.init.normal_(layer.attn.r_w_bias, std=0.02)
            nn.init.normal_(layer.attn.r_r_bias, std=0.02)
        # untrained = seasonal naive: step h repeats row lookback - season + h % season
        nn.init.zeros_(self.head.weight)
        nn.init.zeros_(self.linear.weight)
        with torch.no_grad():
            steps = torch.arange(c.horizon)
            self.linear.weight[steps, c.lookback - c.season + steps % c.season] = 1.0

    @staticmethod
    def _init_weights(module: nn.Module) -> None:
        if isinstance(module, nn.Linear):
            nn.init.normal_(module.weight, std=0.02)
            if module.bias is not None:
                nn.init.zeros_(module.bias)
        elif isinstance(module, nn.Embedding):
            nn.init.normal_(module.weight, std=0.02)

    @property
    def d_model(self) -> int:
        return self.config.d_model

    @property
    def n_layers(self) -> int:
        return self.config.n_layers

    def forward(
        self, windows: torch.Tensor, channel_ids: torch.Tensor, contexts: list[torch.Tensor],
        covariates: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, list[torch.Tensor]]:
        # windows: (B, L, R) the rows each token reads, ending at its last row
        # contexts: n_layers x (B, M, D), M may be 0
        # covariates: (B or 1, L, K * P) each token's covariate rows (`covariate_rows`)
        x = self._embed(windows, self.channel(channel_ids)[:, None], covariates)  # (B, L, D)
        pos = self.pos_drop(self.pos(contexts[0].shape[1] + x.shape[1]))
        layer_inputs = []
        for layer, context in zip(self.layers, contexts):
            layer_inputs.append(x)
            x = layer(x, context, pos)
        return self.token_output(self.norm(x)), layer_inputs  # (B, L, F [+ E])

    def token_output(self, hidden: torch.Tensor) -> torch.Tensor:
        """(..., D) normalised final states -> (..., F) residuals in normalised units, followed
        by the future-covariate encoder's (..., E) context when there is one."""
        out = self.head(hidden)
        if self.context is None:
            return out
        return torch.cat([out, self.context(hidden)], dim=-1)

    def _embed(self, windows: torch.Tensor, channel: torch.Tensor,
               covariates: torch.Tensor | None = None) -> torch.Tensor:
        """Token embeddings (..., D) from the rows (..., R) each token reads, the channel
        embeddings (..., D) and the covariate rows (..., K * P) (both broadcast)."""
        c = self.config
        # the embedding ignores the level: rows taken relative to the newest one keep the
        # sums below from rounding at the scale of the level (float32, a drifting series)
        windows = windows - windows[..., -1:]
        mu, sigma = norm_stats(windows, c.norm_window, c.scale)
        mu_prev, sigma_prev = norm_stats(windows[..., : -c.stride], c.norm_window, c.scale)
        patch = windows[..., -c.patch_len :] - mu  # (..., P), level-free
        # shift-invariant: how far level and scale moved since the previous token, never the
        # absolute training-period level (clamped: the first tokens follow flat padding)
        if sigma is None:  # centring only: the scale never changes (log 1 = 0)
            change = torch.cat([mu - mu_prev, torch.zeros_like(mu)], -1)
        else:
            patch = patch / sigma
            change = torch.cat([(mu - mu_prev) / sigma, (sigma / sigma_prev).log()], -1)
        change = change.clamp(-5.0, 5.0)  # (..., 2)
        token = self.value(patch) + self.change(change) + channel
        if covariates is not None:  # absolute (globally scaled) values: no level to remove
            token = token + self.covariates(covariates)
        return self.embed(token)

    def step(
        self, windows: torch.Tensor, channel_ids: torch.Tensor, keys_values: list[torch.Tensor],
        covariates: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, list[torch.Tensor], list[torch.Tensor]]:
        """`forward` for one new token per stream (L = 1) in eval mode without autograd, on
        folded weights (`txl_ts.txl.step`): the same numbers up to float rounding, each
        layer's context given as its keys/values (`keys_values`), so that earlier tokens are
        not projected again.

        windows: (B, 1, R); keys_values: n_layers x (B, M, 2D); covariates: (B or 1, 1, K * P).
        Returns the token output (B, F [+ E]), each layer's input n_layers x (B, D) and the
        keys/values n_layers x (B, M + 1, 2D) extended by the new token.
        """
        return one_token_step(self, self._step_weights(), windows, channel_ids, keys_values,
                              covariates)

    def keys_values(self, contexts: list[torch.Tensor]) -> list[torch.Tensor]:
        """Each layer's keys/values (B, M, 2D) of its context (B, M, D), as `step` reads them."""
        return [layer.keys_values(context) for layer, context in zip(self.layers, contexts)]

    def _step_weights(self) -> StepWeights:
        """The folded weights of `step`, cached. They depend only on the parameters: an
        in-place update (optimiser step, `load_state_dict`) bumps a parameter's version, which
        refolds them; so do `train()`, `load_state_dict` and moves (`.to`)."""
        params = self.__dict__.get("_step_params")
        if params is None:  # a plain attribute (not a submodule or parameter): built lazily
            params = self.__dict__["_step_params"] = list(self.parameters())
        key = [p._version for p in params]
        cached = self.__dict__.get("_step_cache")
        if cached is None or cached[0] != key:
            cached = self.__dict__["_step_cache"] = (key, fold_step_weights(self))
        return cached[1]

    def _clear_step_cache(self) -> None:
        self.__dict__.pop("_step_cache", None)
        self.__dict__.pop("_step_params", None)

    def train(self, mode: bool = True) -> TXLNet:
        self._clear_step_cache()
        return super().train(mode)

    def load_state_dict(self, *args, **kwargs):
        self._clear_step_cache()  # `assign=True` swaps the parameter objects themselves
        return super().load_state_dict(*args, **kwargs)

    def _apply(self, fn, *args, **kwargs):
        self._clear_step_cache()  # .to / .cuda / .double may replace the parameters
        return super()._apply(fn, *args, **kwargs)

    def forecast(self, lookback: torch.Tensor, residual: torch.Tensor,
                 effect: torch.Tensor | None = None) -> torch.Tensor:
        """Forecasts (..., H) in input units from the rows (..., >= N) before the origin,
        the head's residual (..., H) for the origin's lag and the future covariates' effect
        (..., H) (`future_effect`), which is added outside the normalisation."""
        mu, sigma = norm_stats(lookback, self.config.norm_window, self.config.scale)
        x_norm = lookback[..., -self.config.lookback :] - mu
        if sigma is None:  # centring only
            out = mu + (self.linear(x_norm) + residual)
        else:
            out = mu + sigma * (self.linear(x_norm / sigma) + residual)
        return out if effect is None else out + effect

    def future_effect(self, token_out: torch.Tensor, lag: torch.Tensor,
                      x_future: torch.Tensor, level: torch.Tensor) -> torch.Tensor | None:
        """What the future-known covariates add (..., H) to the forecast from an origin `lag`
        (...) rows after the end of the token whose output is `token_out` (..., F + E), given
        their horizon rows `x_future` (..., H, Kf) and recent level (..., Q)
        (`txl_ts.txl.covariates.recent_level`); None without future covariates."""
        if self.future is None:
            return None
        return self.future(token_out[..., self.config.forecast_len :], lag,
                           arx_features(x_future, level))

    def empty_context(self, batch: int, device: torch.device | None = None) -> list[torch.Tensor]:
        weight = self.head.weight
        return [weight.new_zeros(batch, 0, self.d_model, device=device or weight.device)
                for _ in range(self.n_layers)]
