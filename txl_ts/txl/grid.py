"""The token grid: which rows each token covers, reads and forecasts, in one place.

A stream's rows are numbered from its first row (0). Token n covers rows
[n * stride, n * stride + patch_len); its *end* is the row after it. A forecast *origin* o is
the first row to forecast (o = number of known rows); it reads the newest token that ends at
or before o, `lag = o - end < stride` rows earlier, plus the `context` rows before o.

The stream is preceded by `context` copies of its first row ("padding"), so every token and
every origin has `context` rows behind it, by a rule that depends on the stream alone: training,
prediction and streaming all see the same numbers.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch


@dataclass(frozen=True)
class TokenGrid:
    patch_len: int
    stride: int
    horizon: int
    context: int  # rows kept before an origin or a token's end: what the linear path
    # (lookback) and a token (patch, normalisation windows) read

    @property
    def forecast_len(self) -> int:
        """Steps a token's head forecasts: the horizon from every lag 0 .. stride-1."""
        return self.horizon + self.stride - 1

    def n_tokens(self, n_rows: int) -> int:
        """Complete tokens in the first `n_rows` rows."""
        return 0 if n_rows < self.patch_len else (n_rows - self.patch_len) // self.stride + 1

    def end(self, token):
        """The row after token `token` (int or integer array)."""
        return token * self.stride + self.patch_len

    def newest(self, n_rows):
        """(newest complete token, lag) for an origin after `n_rows` known rows (>= patch_len);
        works elementwise on integer arrays."""
        token = (n_rows - self.patch_len) // self.stride
        return token, n_rows - self.end(token)

    def window_rows(self, n_tokens: int) -> int:
        """Rows a training window of `n_tokens` consecutive tokens reads: `context` rows before
        the first token's end, the tokens, and the targets of every lag of the last token."""
        return self.context + (n_tokens - 1) * self.stride + self.forecast_len

    def pad(self, rows: torch.Tensor) -> torch.Tensor:
        """(C, T) -> (C, context + T): the stream preceded by copies of its first row."""
        return torch.cat([rows[:, :1].expand(-1, self.context), rows], dim=1)

    def origins_after(self, first: int, n_rows: int) -> np.ndarray:
        """Every origin in [first, n_rows) that has a complete token behind it."""
        return np.arange(max(first, self.patch_len), n_rows)
