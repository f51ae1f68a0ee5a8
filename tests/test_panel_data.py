"""The many-series panel (benchmarks/panel_data.py): its series, split, windows and scoring."""

import numpy as np
import pandas as pd
import pytest

from benchmarks import panel_data as pdata


@pytest.fixture(scope="module")
def panel():
    return pdata.load_panel()


def test_panel_is_a_sorted_long_frame_of_three_series(panel):
    assert list(panel.columns) == ["unique_id", "ds", "y"]
    assert tuple(panel["unique_id"].unique()) == pdata.SERIES_IDS
    assert pdata.lengths(panel) == {"ETTh1_OT": 14400, "ETTh2_OT": 14540,
                                    "WTH_WetBulbCelsius": 12000}
    assert panel.equals(panel.sort_values(["unique_id", "ds"], ignore_index=True))
    assert panel["y"].notna().all()
    assert pdata.file_rows()["WTH_WetBulbCelsius"] == (35064 - 12000, 35064)


def test_split_sizes(panel):
    assert pdata.split_rows(14400) == (14400 - 3600, 14400 - 2400)
    with pytest.raises(ValueError, match="training rows"):
        pdata.split_rows(3600)
    sizes = {name: fn(panel).groupby("unique_id").size().to_dict()
             for name, fn in [("train", pdata.train_frame), ("val", pdata.validation_frame),
                              ("fit", pdata.fit_frame), ("test", pdata.holdout_frame)]}
    for uid, n in pdata.lengths(panel).items():
        assert sizes["test"][uid] == pdata.TEST_ROWS and sizes["val"][uid] == pdata.VAL_ROWS
        assert sizes["train"][uid] == n - pdata.TEST_ROWS - pdata.VAL_ROWS
        assert sizes["fit"][uid] == n - pdata.TEST_ROWS
    # validation is the block just before the test rows
    val = pdata.validation_frame(panel).groupby("unique_id")["ds"].max()
    test = pdata.holdout_frame(panel).groupby("unique_id")["ds"].min()
    assert ((test - val) == pd.Timedelta(1, "h")).all()


def test_window_counts_and_cutoffs(panel):
    for n in pdata.lengths(panel).values():
        c = pdata.cutoffs(n)
        assert len(c) == 2377 and c[0] == n - pdata.TEST_ROWS - 1
        assert c[-1] + pdata.HORIZON == n - 1
        assert np.array_equal(pdata.cutoffs(n, 24), c[::24]) and pdata.n_windows(n, 24) == 100


def test_seasonal_naive_scores_one_against_itself(panel):
    for stride in (1, pdata.PEER_STRIDE):
        result = pdata.score(pdata.seasonal_naive(panel, stride), panel, stride)
        assert result["pooled"]["mse_vs_snaive"] == pytest.approx(1.0)
        for row in result["series"].values():
            assert row["mse_vs_snaive"] == pytest.approx(1.0)
        assert result["pooled"]["mse"] == pytest.approx(
            np.mean([r["mse"] for r in result["series"].values()]))


def test_score_is_on_train_standardised_values(panel):
    stats = pdata.train_stats(panel)
    fc = {uid: t + stats[uid][1] for uid, t in pdata.targets(panel).items()}  # off by one std
    result = pdata.score(fc, panel)
    assert result["pooled"]["mse"] == pytest.approx(1.0)
    assert result["pooled"]["mae"] == pytest.approx(1.0)


def test_score_rejects_wrong_shapes_series_and_values(panel):
    fc = pdata.seasonal_naive(panel)
    uid = pdata.SERIES_IDS[0]
    with pytest.raises(ValueError, match="shape"):
        pdata.score({**fc, uid: fc[uid][:-1]}, panel)
    with pytest.raises(ValueError, match="shape"):
        pdata.score(fc, panel, stride=24)
    with pytest.raises(ValueError, match="missing"):
        pdata.score({k: v for k, v in fc.items() if k != uid}, panel)
    with pytest.raises(ValueError, match="NaN"):
        pdata.score({**fc, uid: np.full_like(fc[uid], np.nan)}, panel)


def test_long_forecasts_round_trip(panel):
    stride = pdata.PEER_STRIDE
    naive = pdata.seasonal_naive(panel, stride)
    rows = []
    for uid, cut in pdata.cutoff_times(panel, stride).items():
        for i, c in enumerate(cut):
            ds = c + pd.to_timedelta(np.arange(1, pdata.HORIZON + 1), "h")
            rows.append(pd.DataFrame({"unique_id": uid, "ds": ds, "cutoff": c,
                                      "m": naive[uid][i]}))
    frame = pd.concat(rows, ignore_index=True)
    back = pdata.forecasts_from_long(frame, "m", panel, stride)
    assert all(np.array_equal(back[u], naive[u]) for u in naive)
    with pytest.raises(ValueError, match="cutoffs"):
        pdata.forecasts_from_long(frame.iloc[pdata.HORIZON:], "m", panel, stride)
    z = pdata.standardise(panel)
    assert z.groupby("unique_id")["y"].head(1).abs().max() < 10
    assert all(np.allclose(pdata.destandardise({u: (naive[u] - m) / s}, panel)[u], naive[u])
               for u, (m, s) in pdata.train_stats(panel).items())


def test_missing_values_and_gaps_are_reported_not_fixed(monkeypatch):
    real = pdata._file

    def broken(kind):
        def load(name):
            frame = real(name).copy()
            if name == "ETTh2":
                if kind == "nan":
                    frame.iloc[5000, frame.columns.get_loc("OT")] = np.nan
                else:
                    frame.index = frame.index.delete(5000).append(
                        pd.DatetimeIndex([frame.index[-1] + pd.Timedelta(1, "h")]))
            return frame
        return load

    for kind, message in [("nan", "missing or non-finite values, first at file row 5000"),
                          ("gap", "timestamps not hourly: 2017-01-25 07:00:00 is followed")]:
        monkeypatch.setattr(pdata, "_file", broken(kind))
        pdata._panel.cache_clear()
        try:
            with pytest.raises(ValueError, match=message):
                pdata.load_panel()
        finally:
            monkeypatch.setattr(pdata, "_file", real)
            pdata._panel.cache_clear()
