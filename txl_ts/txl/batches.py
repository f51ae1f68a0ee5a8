"""The training and validation data of a TXL fit, over one series or many.

Each series gives windows of whole segments ending in its training rows (`Windows`), or, when
training is stateful, contiguous streams of segments in time order (`Chunks`). Over many
series the windows of all of them form one dataset, so that shuffled batches draw from each
series in proportion to its length.
"""

from __future__ import annotations

import torch
from torch.utils.data import ConcatDataset, DataLoader, Dataset

from ..training import Windows
from .grid import TokenGrid


class Chunks(Dataset):
    """Stateful mode: step j gives segment j of each of B contiguous streams, in time order."""

    def __init__(self, values: torch.Tensor, grid: TokenGrid, n_streams: int,
                 tokens_per_stream: int, segment_len: int, end: int):
        self.windows = Windows(values, grid.window_rows(segment_len), grid.stride,
                               n_streams * tokens_per_stream, end=end)
        self.n_streams, self.tokens_per_stream = n_streams, tokens_per_stream
        self.segment_len = segment_len

    def __len__(self) -> int:
        return self.tokens_per_stream // self.segment_len

    def __getitem__(self, j: int) -> torch.Tensor:
        starts = [s * self.tokens_per_stream + j * self.segment_len for s in range(self.n_streams)]
        return torch.stack([self.windows[t] for t in starts])  # (B, C, R)


def fit_loaders(series: list[tuple[torch.Tensor, torch.Tensor, int]], grid: TokenGrid, *,
                n_segments: int, segment_len: int, stateful: bool, batch_size: int,
                generator: torch.Generator
                ) -> tuple[DataLoader, DataLoader | None, int | list[int]]:
    """The training loader, the validation loader (None without validation rows) and the
    validation start(s) that `TXLModule` takes.

    `series` holds, per series, its scaled targets (C, T), covariates (K, T) and the row
    where its validation rows start. One series validates as one item; several as one item
    per series, `(index, values)`, so that the validation loss is the mean of the series'
    MSEs and each series is read from its own `val_start`. Stateful training takes one
    series.
    """
    train_sets, val_sets = [], []
    for values, x_values, val_start in series:
        # training and validation read the K covariate rows after the C target rows
        values = torch.cat([values, x_values]) if x_values.shape[0] else values  # (C+K, T)
        # window i starts at padded column i * stride: `context` rows before token i's end
        shifted = grid.pad(values)[:, grid.patch_len :]
        end = grid.context + val_start - grid.patch_len  # training rows end here
        n_train_tokens = grid.n_tokens(val_start)
        window_tokens = min(n_segments * segment_len, n_train_tokens)
        if stateful:
            n_streams = max(1, min(batch_size, n_train_tokens // segment_len))
            per_stream = n_train_tokens // n_streams
            train_sets.append(Chunks(shifted, grid, n_streams, per_stream, segment_len,
                                     end=end))
        else:
            train_sets.append(Windows(shifted, grid.window_rows(window_tokens), grid.stride,
                                      n_starts=n_train_tokens - window_tokens + 1, end=end))
        if val_start < values.shape[1]:
            val_sets.append((values, val_start))
    if len(train_sets) > 1:
        # a window's length depends on the series only through short series: pad to one
        length = max(d.length for d in train_sets)
        for d in train_sets:
            d.length = length
    data = train_sets[0] if len(train_sets) == 1 else ConcatDataset(train_sets)
    if stateful:
        train_loader = DataLoader(data, batch_size=None, shuffle=False)
    else:
        train_loader = DataLoader(data, batch_size=batch_size, shuffle=True,
                                  generator=generator)
    if not val_sets:
        return train_loader, None, []
    val_loader = DataLoader(ValidationSeries([v for v, _ in val_sets], len(series) > 1),
                            batch_size=1)
    if len(series) == 1:
        return train_loader, val_loader, val_sets[0][1]
    return train_loader, val_loader, [s for _, s in val_sets]


class ValidationSeries(Dataset):
    """The validation items of a TXL fit: one per series, each scored from every origin of
    its validation tail (`TXLModule.validation_loss`).

    Item i is the series' (C + K, T) rows or, with `indexed` (several series), `(i, rows)`.
    `shard(n)` splits every series' validation origins into `n` contiguous parts, so that the
    processes of a data-parallel fit can share them out (`txl_ts.distributed`).
    """

    def __init__(self, values: list[torch.Tensor], indexed: bool, parts: int = 1):
        self.values, self.indexed, self.parts = values, indexed, parts

    def __len__(self) -> int:
        return len(self.values) * self.parts

    def __getitem__(self, i: int):
        if self.parts == 1:
            return (i, self.values[i]) if self.indexed else self.values[i]
        series, part = divmod(i, self.parts)
        # part j of n of series s: `TXLModule.validation_shard` scores those origins only
        return {"index": series, "values": self.values[series], "part": part,
                "parts": self.parts}

    def shard(self, n: int) -> ValidationSeries:
        """The same validation, as n parts per series (item s * n + j: part j of series s,
        so a process that takes every n-th item reads one part of each series)."""
        return ValidationSeries(self.values, self.indexed, n)
