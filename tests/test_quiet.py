"""Training output and set-up: a default fit in a script (stdout not a terminal) writes almost
nothing; `verbose=True` writes one line per epoch; `verbose` is a training-only parameter; a
GPU asked for on a machine without one is a clear error at fit."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from txl_ts import TXLForecaster
from txl_ts.baselines import DLinearForecaster, LSTMForecaster

ROOT = Path(__file__).resolve().parent.parent

SCRIPT = """
import numpy as np, pandas as pd
from txl_ts import TXLForecaster
from txl_ts.baselines import DLinearForecaster
t = np.arange(600)
df = pd.DataFrame({{"x": np.sin(2 * np.pi * t / 24)
                   + 0.1 * np.random.default_rng(0).standard_normal(600)}},
                  index=pd.date_range("2021-01-01", periods=600, freq="h"))
TXLForecaster(horizon=12, {extra}).fit(df).predict()
DLinearForecaster(horizon=12, {extra}).fit(df).predict()
print("done")
"""


def _run(extra: str) -> list[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    done = subprocess.run([sys.executable, "-c", SCRIPT.format(extra=extra)],
                          capture_output=True, text=True, env=env, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    # a progress bar redraws with carriage returns: count those as lines too
    return (done.stdout + done.stderr).replace("\r", "\n").splitlines()


@pytest.mark.slow
def test_default_fit_in_a_script_is_quiet():
    lines = [line for line in _run("") if line.strip()]
    assert len(lines) < 30, "\n".join(lines[:40])
    assert lines[-1] == "done"
    text = "\n".join(lines)
    for noise in ("GPU available", "LOCAL_RANK", "Trainer.fit", "Epoch", "Tip", "Params"):
        assert noise not in text


def test_verbose_true_prints_one_line_per_epoch():
    lines = _run("max_epochs=2, verbose=True")
    epochs = [line for line in lines if line.startswith("epoch ")]
    assert epochs[0].startswith("epoch 1/2 ") and epochs[1].startswith("epoch 2/2 ")
    assert len(epochs) == 4  # two epochs of each model
    assert "val_loss=" in epochs[0]


@pytest.mark.parametrize("cls", [TXLForecaster, LSTMForecaster, DLinearForecaster])
def test_verbose_is_checked_and_training_only(cls):
    t = np.arange(300)
    df = pd.DataFrame({"x": np.sin(2 * np.pi * t / 24)},
                      index=pd.date_range("2021-01-01", periods=300, freq="h"))
    with pytest.raises(TypeError, match="verbose"):
        cls(horizon=4, verbose="yes").fit(df)
    model = cls(horizon=4, lookback=24, max_epochs=1, verbose=False).fit(df)
    model.set_params(verbose=True)
    assert model.predict().shape == (4, 1)  # verbose may change after fit


@pytest.mark.skipif(__import__("torch").cuda.is_available(), reason="needs a machine without GPU")
@pytest.mark.parametrize("cls", [TXLForecaster, LSTMForecaster, DLinearForecaster])
@pytest.mark.parametrize("accelerator", ["gpu", "cuda"])
def test_gpu_requested_without_a_gpu_is_a_clear_error(cls, accelerator):
    t = np.arange(300)
    df = pd.DataFrame({"x": np.sin(2 * np.pi * t / 24)},
                      index=pd.date_range("2021-01-01", periods=300, freq="h"))
    with pytest.raises(ValueError, match=f"accelerator='{accelerator}'.*no GPU is available"):
        cls(horizon=4, lookback=24, max_epochs=1, accelerator=accelerator).fit(df)
