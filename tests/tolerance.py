"""One rule for how close two computations of the same numbers must be.

Many tests check that two routes to a result agree: streaming against re-encoding, the
one-token step against the general forward pass, a batched rolling forecast against a loop of
`predict` calls. In exact arithmetic they are equal; in floating point each route rounds after
every operation, and the order of those operations is not ours to fix. BLAS and oneDNN pick
kernels, block sizes, vector widths and fused multiply-adds per CPU (an AMD EPYC and an Intel
Xeon sum the same dot product in different orders), so two correct routes differ by a few
roundings, and by how many depends on the machine. A bare constant such as `atol=1e-6` encodes
one machine's luck: a float32 output of size 10 has a spacing of about 1e-6 of its own.

The rule is therefore relative to what rounding can do:

    tol = MARGIN * eps(dtype) * scale * sqrt(ops)

* `eps(dtype)`: the machine epsilon of the dtype the compared numbers were *computed* in
  (1.2e-7 for float32, 2.2e-16 for float64), not the dtype they are stored in afterwards.
* `scale`: the magnitude of the values compared (by default the largest |expected|); rounding
  errors are relative to the size of the numbers being rounded.
* `ops`: the length of the longest accumulation the two routes do differently (a sum over
  `ops` terms, a filter run over `ops` steps). Independent rounding errors of a sum grow like
  the square root of its length; the worst case is linear, but summation-order differences
  behave like the random walk.
* `MARGIN = 64`: the differences measured on the suite's own comparisons stay within about
  5 eps * scale * sqrt(ops) (the one-token step against the general path: 3 here, and 3.3 on
  the AMD EPYC where `atol=1e-6` failed), so 64 leaves more than a factor of 10 for other CPUs
  and library versions.

It stays tight. In float32 at scale 1 one operation allows 7.6e-6; a bug such as a wrong
memory index, a dropped token or an off-by-one window changes outputs by a sizeable fraction
of their scale (1e-2 and up), thousands of times beyond it. In float64 the same rule allows
1.4e-14 * scale, far below anything a logic error could hide in.

Tests that assert bit-identical results (`==`, `torch.equal`, `assert_frame_equal`) keep doing
so where bit-identity is the property under test (a failed call leaves the state untouched,
a save/load round trip): those have no rounding to allow for. Nor is this rule for tolerances
that rounding does not set, which stay constants with their reason beside them: statistical
ones (coverage, accuracy against a baseline), a reference published to four decimals, the
conformal tables' significant digits, statsmodels' steady-state filter, the network's variance
floor.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch

MARGIN = 64


def eps(dtype: Any) -> float:
    """Machine epsilon of a torch or numpy floating dtype."""
    if isinstance(dtype, torch.dtype):
        return torch.finfo(dtype).eps
    return float(np.finfo(dtype).eps)


def tol(dtype: Any, scale: float = 1.0, ops: int = 1) -> float:
    """The absolute tolerance for two routes to numbers of size `scale`, computed in `dtype`
    with accumulations of up to `ops` terms that the routes order differently."""
    return MARGIN * eps(dtype) * float(scale) * math.sqrt(ops)


def _array(x: Any) -> np.ndarray:
    if isinstance(x, torch.Tensor):
        return x.detach().cpu().double().numpy()
    if hasattr(x, "to_numpy"):  # pandas
        return np.asarray(x.to_numpy(), dtype=np.float64)
    return np.asarray(x, dtype=np.float64)


def assert_close(actual: Any, expected: Any, dtype: Any, *, scale: float | None = None,
                 ops: int = 1, msg: str = "") -> None:
    """Assert `actual` equals `expected` (same shape, NaN where it is NaN) up to `tol`.

    `dtype` is the dtype of the computation, which a test states rather than reads from the
    arrays: forecasts computed in float32 are often handed back as float64. `scale` defaults to
    the largest finite |expected| (at least the smallest normal number, so that an all-zero
    expectation asks for zeros, not for exact equality of denormals).
    """
    a, e = _array(actual), _array(expected)
    if scale is None:
        finite = np.abs(e[np.isfinite(e)])
        scale = max(float(finite.max()) if finite.size else 0.0, float(np.finfo(np.float64).tiny))
    scale = float(_array(scale))  # a tensor scale may carry autograd history
    atol = tol(dtype, scale, ops)
    diff = np.abs(a - e) if a.shape == e.shape else np.array([np.inf])
    worst = float(np.nanmax(diff)) if np.isfinite(diff).any() else 0.0
    units = worst / (eps(dtype) * scale * math.sqrt(ops))
    np.testing.assert_allclose(
        a, e, rtol=0, atol=atol,
        err_msg=f"{msg} (tolerance {atol:.3g} = {MARGIN} eps * scale {scale:.3g} * sqrt({ops}); "
                f"max |diff| {worst:.3g} = {units:.1f} eps * scale * sqrt(ops))",
    )
