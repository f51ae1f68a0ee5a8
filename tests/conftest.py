"""Test-wide settings: one intra-op thread.

The models in the tests are tiny, so extra threads buy nothing, and on a shared 2-core machine
oversubscribed OpenMP threads slow small kernels down by an order of magnitude.
"""

import torch

torch.set_num_threads(1)
