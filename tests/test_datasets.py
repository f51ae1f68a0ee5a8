"""The bundled data sets load as documented, and a missing file says where it was looked for."""

import hashlib

import pandas as pd
import pytest

from txl_ts import datasets

SHA256 = {  # datasets/README.md: the files are the unmodified public releases
    "ETTh1": "f18de3ad269cef59bb07b5438d79bb3042d3be49bdeecf01c1cd6d29695ee066",
    "ETTh2": "a3dc2c597b9218c7ce1cd55eb77b283fd459a1d09d753063f944967dd6b9218b",
    "WTH": "5635e7f2d8f947f9abc6bc7077c907fb760eef111855a6805f096e9acff581bc",
}


@pytest.mark.parametrize("name, rows, cols", [("ETTh1", 17420, 7), ("ETTh2", 17420, 7),
                                               ("WTH", 35064, 12)])
def test_load_returns_an_hourly_float_frame(name, rows, cols):
    df = datasets.load(name)
    assert df.shape == (rows, cols)
    assert isinstance(df.index, pd.DatetimeIndex) and df.index.freqstr == "h"
    assert df.index.is_monotonic_increasing and not df.index.has_duplicates
    assert datasets.TARGETS[name] in df.columns
    assert df.notna().all().all()
    assert hashlib.sha256(datasets.path(name).read_bytes()).hexdigest() == SHA256[name]


def test_unknown_and_missing_data_sets_are_reported(monkeypatch, tmp_path):
    with pytest.raises(ValueError, match="unknown data set 'ETTm1'"):
        datasets.load("ETTm1")
    monkeypatch.setattr(datasets, "SEARCH_PATH", (tmp_path / "a", tmp_path / "b"))
    with pytest.raises(FileNotFoundError, match=f"looked in: {tmp_path / 'a'}, {tmp_path / 'b'}"):
        datasets.load("WTH")
