"""`TXLConfig`: the sizes of a `TXLNet`, in a module of its own so that the network
(`txl_ts.txl.net`) and its one-token step (`txl_ts.txl.step`) both read it without importing
each other."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class TXLConfig:
    n_channels: int
    patch_len: int
    stride: int
    horizon: int
    forecast_len: int  # horizon + stride - 1: the head covers every lag of an origin
    lookback: int  # rows the linear path reads before an origin
    norm_window: int  # rows of the causal mean / std
    season: int  # the linear path starts as "repeat the last `season` rows" (<= lookback)
    scale: bool = False  # instance normalisation divides by the std too (RevIN), or only centres
    d_model: int = 64
    n_heads: int = 4
    n_layers: int = 2
    d_ff: int = 128
    dropout: float = 0.1
    # the layers never read these two: the stream and training do (`Stream`, `TXLModule`),
    # but they are as much a part of what the network computes as the rest
    segment_len: int = 8  # tokens processed together; the memory carries context across
    mem_len: int = 16  # cached inputs of earlier tokens that every layer attends to
    # covariates (`txl_ts.txl.covariates`): K = n_past + n_future columns of x, the past ones
    # first; 0 and 0 build exactly the network without covariates
    n_past: int = 0  # covariates read only in the rows of tokens (up to the origin)
    n_future: int = 0  # covariates known ahead: also read at every step of the horizon
    covariate_width: int = 32  # E: hidden width of the future-covariate encoder (0: none)
    covariate_dropout: float = 0.1

    @property
    def token_rows(self) -> int:
        """Rows a token reads: its patch, its normalisation window and the previous token's
        (for the change of level and scale since then)."""
        return max(self.patch_len, self.norm_window + self.stride)

    @property
    def n_covariates(self) -> int:
        """K: covariate columns a token reads (past ones, then future ones)."""
        return self.n_past + self.n_future

    @property
    def context_width(self) -> int:
        """E: the per-token context the future-covariate encoder reads (0 without one)."""
        return self.covariate_width if self.n_future else 0

    @property
    def token_out(self) -> int:
        """Values per token output: the F residual steps, then the E encoder context."""
        return self.forecast_len + self.context_width
