"""Issue 10: a failed call never corrupts a fitted model, poison is rejected, columns are
labels, load() validates its files, time zones survive persistence, cutoffs are checked.

Every estimator is covered, with tiny settings so the file stays fast.
"""

from __future__ import annotations

import copy
import json
import warnings

import numpy as np
import pandas as pd
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from safetensors.torch import load_file, save_file

from txl_ts import TXLForecaster
from txl_ts.baselines import ARIMAForecaster, DLinearForecaster, LSTMForecaster, NaiveForecaster
from txl_ts.persistence import FORMAT_VERSION
from txl_ts.training import TrainingDivergedError

QUIET = {"enable_progress_bar": False}
H = 4

FACTORIES = {
    "naive": lambda **kw: NaiveForecaster(H, **kw),
    "snaive": lambda **kw: NaiveForecaster(H, "seasonal", season=3, **kw),
    "arima": lambda **kw: ARIMAForecaster(H, order=(1, 0, 0), maxiter=5, **kw),
    "dlinear": lambda **kw: DLinearForecaster(
        H, lookback=8, kernel=3, max_epochs=1, batch_size=32, trainer_kwargs=QUIET, **kw),
    "lstm": lambda **kw: LSTMForecaster(
        H, lookback=8, hidden_size=4, n_layers=1, max_epochs=1, batch_size=32,
        trainer_kwargs=QUIET, **kw),
    "txl": lambda **kw: TXLForecaster(
        H, patch_len=4, stride=4, d_model=8, n_heads=2, n_layers=1, d_ff=8, segment_len=2,
        mem_len=2, n_segments=2, max_epochs=1, batch_size=32, trainer_kwargs=QUIET, **kw),
}
NEURAL = ("dlinear", "lstm", "txl")


def make_frame(n: int = 96, columns=("a", "b"), start: str = "2024-01-01", freq: str = "h",
               tz: str | None = None, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    values = np.column_stack([20 + 3 * np.sin(2 * np.pi * t / 24 + k) + rng.normal(0, .3, n)
                              for k in range(len(columns))])
    index = pd.date_range(start, periods=n, freq=freq, tz=tz)
    return pd.DataFrame(values, index=index, columns=list(columns))


@pytest.fixture(scope="module")
def data() -> pd.DataFrame:
    return make_frame(160)


@pytest.fixture(scope="module")
def fitted(data):
    """One fitted model per estimator (tests deep-copy before changing one)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return {name: make().fit(data.iloc[:120]) for name, make in FACTORIES.items()}


def fresh(fitted, name):
    return copy.deepcopy(fitted[name])


def _same(a: pd.DataFrame, b: pd.DataFrame) -> None:
    pd.testing.assert_frame_equal(a, b, check_exact=True)


# ---- 1. transactional fit / update / set_state ----------------------------------------------
@pytest.mark.parametrize("name", list(FACTORIES))
def test_rejected_validation_data_leaves_the_fitted_model_unchanged(fitted, data, name):
    model = fresh(fitted, name)
    before = model.predict()
    gap = data.iloc[125:140]  # does not continue data.iloc[:100]
    with pytest.raises(ValueError, match="continue the timeline"):
        model.fit(data.iloc[:100], validation_data=gap)
    _same(model.predict(), before)


@pytest.mark.parametrize("name", list(FACTORIES))
def test_poisoned_refit_leaves_the_fitted_model_unchanged(fitted, data, name):
    model = fresh(fitted, name)
    before = model.predict()
    bad = data.iloc[:100].copy()
    bad.iloc[50, 1] = np.nan
    with pytest.raises(ValueError, match=r"NaN in column 'b' at 2024-01-03 02:00"):
        model.fit(bad)
    _same(model.predict(), before)


def test_diverged_refit_raises_and_leaves_the_model_unchanged(fitted, data):
    model = fresh(fitted, "lstm")
    before = model.predict()
    model.set_params(lr=1e6)
    with pytest.raises(TrainingDivergedError, match="diverged"):
        model.fit(data.iloc[:120])
    _same(model.predict(), before)


@pytest.mark.parametrize("name", list(FACTORIES))
@pytest.mark.parametrize("value", [1e30, 9.969209968386869e36, -1e12])
def test_absurd_finite_values_are_rejected_naming_column_and_timestamp(fitted, data, name,
                                                                       value):
    model = fresh(fitted, name)
    before = model.predict()
    history = data.iloc[:130].copy()
    history.iloc[127, 0] = value
    kept = history.copy()
    if name.endswith("naive"):  # repeating values needs no scale: any finite value is fine
        assert np.isfinite(model.predict(history=history).to_numpy()).all()
        return
    with pytest.raises(ValueError, match=r"column 'a' at 2024-01-06 07:00"):
        model.predict(history=history)
    with pytest.raises(ValueError, match=r"column 'a' at 2024-01-06 07:00"):
        model.rolling_forecasts(history, np.array([126, 128]))
    with pytest.raises(ValueError, match=r"validation_data: value .* column 'a'"):
        model.fit(data.iloc[:120], validation_data=history.iloc[120:])
    bad_train = data.iloc[:120].copy()
    bad_train.iloc[60, 0] = value
    with pytest.raises(ValueError, match=r"column 'a' at 2024-01-03 12:00"):
        model.fit(bad_train)
    pd.testing.assert_frame_equal(history, kept)
    _same(model.predict(), before)


def test_update_rejects_poison_and_keeps_the_state(fitted, data):
    model = fresh(fitted, "txl")
    before, state = model.predict(), model.get_state()
    new = data.iloc[120:124].copy()
    new.iloc[2, 1] = 1e30
    with pytest.raises(ValueError, match=r"1e\+30 in column 'b' at 2024-01-06 02:00"):
        model.update(new)
    assert model.get_state() == state
    _same(model.predict(), before)
    model.update(data.iloc[120:124])  # clean rows still go through


@pytest.mark.parametrize("name", list(FACTORIES))
def test_data_whose_scaling_overflows_is_a_data_error(name, data):
    huge = data.iloc[:120] * 1e200
    model = FACTORIES[name]()
    if name.endswith("naive"):
        fc = model.fit(huge).predict()
        last = huge.iloc[-1 if name == "naive" else -3].to_numpy()
        assert np.array_equal(fc.iloc[0].to_numpy(), last)
        return
    with pytest.raises(ValueError, match="cannot be standardised|robust standard deviations"):
        model.fit(huge)


@pytest.mark.parametrize("scale", [1.0, 1e150, 1e300, -1e-300])
def test_naive_forecasts_are_exact_copies(scale, data):
    df = data.iloc[:50] * scale
    fc = NaiveForecaster(H).fit(df).predict()
    assert (fc.to_numpy() == df.iloc[-1].to_numpy()).all()
    fc = NaiveForecaster(H, "seasonal", season=3).fit(df).predict(history=df.iloc[:20])
    assert (fc.to_numpy() == df.iloc[17:20].to_numpy()[[0, 1, 2, 0]]).all()


def test_set_state_rejects_a_state_from_another_model_and_keeps_its_own(fitted, data):
    model = fresh(fitted, "txl")
    other = TXLForecaster(H, patch_len=4, stride=4, d_model=16, n_heads=2, n_layers=1,
                          d_ff=8, segment_len=2, mem_len=2, max_epochs=1,
                          trainer_kwargs=QUIET).fit(data.iloc[:120])
    before = model.predict()
    with pytest.raises(ValueError, match="does not match"):
        model.set_state(other.get_state())
    _same(model.predict(), before)


# ---- 3. training that does nothing or diverges ----------------------------------------------
def test_zero_training_steps_is_an_error_naming_the_minimum_length(data):
    model = FACTORIES["txl"](stateful=True).set_params(segment_len=16)
    with pytest.raises(ValueError, match=r"at least \d+ are needed \(stateful"):
        model.fit(data.iloc[:60])


def test_a_diverged_lstm_raises_instead_of_forecasting_nonsense(data):
    with pytest.raises(TrainingDivergedError) as info:
        FACTORIES["lstm"](lr=1e6).fit(data.iloc[:120])
    assert isinstance(info.value, ValueError)


# ---- 4. columns are labels --------------------------------------------------------------------
def _relabel(df: pd.DataFrame, kind: str) -> pd.DataFrame:
    df = df.copy()
    if kind == "int":
        df.columns = [0, 1]
    elif kind == "multi":
        df.columns = pd.MultiIndex.from_tuples([("x", "a"), ("x", "b")])
    return df


@pytest.mark.parametrize("name", list(FACTORIES))
@pytest.mark.parametrize("kind", ["int", "multi"])
def test_non_string_labels_work_and_round_trip(name, kind, data, tmp_path):
    df = _relabel(data.iloc[:120], kind)
    model = FACTORIES[name]().fit(df)
    fc = model.predict(history=_relabel(data.iloc[:110], kind))
    assert list(fc.columns) == list(df.columns)
    loaded = type(model).load(model.save(tmp_path / "m"))
    assert loaded.columns_ == model.columns_
    _same(loaded.predict(), model.predict())


def test_duplicate_names_are_named(data):
    df = data.iloc[:50].copy()
    df.columns = ["a", "a"]
    with pytest.raises(ValueError, match=r"duplicate column names \['a'\]"):
        NaiveForecaster(H).fit(df)


def test_bool_columns_are_treated_alike_with_and_without_targets(data):
    df = data.iloc[:50].assign(flag=np.arange(50) % 2 == 0)
    plain = NaiveForecaster(H).fit(df).predict()
    chosen = NaiveForecaster(H, targets=["a", "b", "flag"]).fit(df).predict()
    _same(plain, chosen)


@pytest.mark.parametrize("name", list(FACTORIES))
def test_extra_non_target_columns_are_ignored_with_targets(name, data):
    df = data.assign(note="x", other=1.0)
    model = FACTORIES[name](targets=["a", "b"]).fit(df.iloc[:120])
    fc = model.predict(history=df.iloc[:110])
    _same(fc, model.predict(history=data.iloc[:110]))
    if name == "txl":
        model.update(df.iloc[120:124])


# ---- 5. load validates its files --------------------------------------------------------------
def _edit(key_path: tuple, value):
    def apply(config: dict) -> None:
        target = config
        for k in key_path[:-1]:
            target = target[k]
        if value is _DELETE:
            del target[key_path[-1]]
        else:
            target[key_path[-1]] = value
    return apply


_DELETE = object()
CONFIG_EDITS = {
    "no format_version": (_edit(("format_version",), _DELETE), "format_version"),
    "future version": (_edit(("format_version",), FORMAT_VERSION + 1), "newer version"),
    "version as text": (_edit(("format_version",), "2"), "format_version"),
    "other class": (_edit(("class",), "Other"), "holds a Other"),
    "no params": (_edit(("params",), _DELETE), "'params'"),
    "bad horizon": (_edit(("params", "horizon"), 0), "horizon"),
    "horizon as text": (_edit(("params", "horizon"), "4"), "horizon"),
    "unknown param": (_edit(("params", "zzz"), 1), "params.zzz"),
    "missing param": (_edit(("params", "horizon"), _DELETE), "params.horizon"),
    "targets not labels": (_edit(("params", "targets"), [{"set": [1]}]), "params.targets"),
    "no fitted": (_edit(("fitted",), _DELETE), "'fitted'"),
    "no columns": (_edit(("fitted", "columns"), _DELETE), "fitted.columns"),
    "columns not a list": (_edit(("fitted", "columns"), "a"), "fitted.columns"),
    "extra column": (_edit(("fitted", "columns"), ["a", "b", "c"]), "fitted.scaler"),
    "bad label": (_edit(("fitted", "columns"), ["a", {"set": 1}]), "fitted.columns"),
    "bad freq": (_edit(("fitted", "freq"), "fortnightly"), "fitted.freq"),
    "bad timestamp": (_edit(("fitted", "last_timestamp"), "yesterday"),
                      "fitted.last_timestamp"),
    "bad timezone": (_edit(("fitted", "timezone"), "Mars/Olympus"), "fitted.timezone"),
    "short scaler": (_edit(("fitted", "scaler", "mean"), [0.0]), "fitted.scaler.mean"),
    "scale as text": (_edit(("fitted", "scaler", "scale"), ["1", "1"]), "fitted.scaler.scale"),
    "zero scale": (_edit(("fitted", "scaler", "scale"), [0.0, 1.0]), "fitted.scaler.scale"),
    "no scaler": (_edit(("fitted", "scaler"), _DELETE), "fitted.scaler"),
    "no extra": (_edit(("extra",), _DELETE), "'extra'"),
    "extra not a dict": (_edit(("extra",), []), "extra"),
}
EXTRA_KEYS = {"naive": ["season"], "snaive": ["season"], "arima": ["orders", "trends"],
              "dlinear": ["fit_summary"], "lstm": ["fit_summary"],
              "txl": ["fit_summary", "fitted_timestamp"]}


def _saved(fitted, name, tmp_path):
    return fitted[name].save(tmp_path / name)


def _config(path):
    return json.loads((path / "config.json").read_text())


@pytest.mark.parametrize("name", list(FACTORIES))
@pytest.mark.parametrize("case", list(CONFIG_EDITS))
def test_corrupt_config_fields_are_named(fitted, name, case, tmp_path):
    path = _saved(fitted, name, tmp_path)
    config = _config(path)
    edit, message = CONFIG_EDITS[case]
    if case == "bad timezone":
        config["fitted"]["last_timestamp"] = "2024-01-05 23:00:00+00:00"
    edit(config)
    (path / "config.json").write_text(json.dumps(config))
    with pytest.raises(ValueError, match="config.json") as info:
        type(fitted[name]).load(path)
    assert message in str(info.value)


@pytest.mark.parametrize("name", list(FACTORIES))
def test_missing_extra_fields_are_named(fitted, name, tmp_path):
    for key in EXTRA_KEYS[name]:
        path = _saved(fitted, name, tmp_path)
        config = _config(path)
        del config["extra"][key]
        (path / "config.json").write_text(json.dumps(config))
        with pytest.raises(ValueError, match=f"config.json.*extra.{key}"):
            type(fitted[name]).load(path)


@pytest.mark.parametrize("name", list(FACTORIES))
def test_extra_fields_of_the_wrong_type_are_rejected(fitted, name, tmp_path):
    for key in EXTRA_KEYS[name]:
        path = _saved(fitted, name, tmp_path)
        config = _config(path)
        config["extra"][key] = "x"
        (path / "config.json").write_text(json.dumps(config))
        with pytest.raises(ValueError, match="config.json"):
            type(fitted[name]).load(path)


@pytest.mark.parametrize("name", list(FACTORIES))
@pytest.mark.parametrize("case", ["not json", "json list", "missing config", "missing weights",
                                  "garbage weights", "pickle weights", "truncated weights"])
def test_corrupt_files_are_named(fitted, name, case, tmp_path):
    path = _saved(fitted, name, tmp_path)
    weights = path / "weights.safetensors"
    if case == "not json":
        (path / "config.json").write_text("{not json")
    elif case == "json list":
        (path / "config.json").write_text("[1, 2]")
    elif case == "missing config":
        (path / "config.json").unlink()
    elif case == "missing weights":
        weights.unlink()
    elif case == "garbage weights":
        weights.write_bytes(b"\x00garbage" * 10)
    elif case == "pickle weights":
        import pickle
        weights.write_bytes(pickle.dumps({"a": 1}))
    else:
        weights.write_bytes(weights.read_bytes()[:-7])
    file = "config.json" if "config" in case or "json" in case else "weights.safetensors"
    with pytest.raises(ValueError, match=file):
        type(fitted[name]).load(path)


@pytest.mark.parametrize("name", list(FACTORIES))
@pytest.mark.parametrize("case", ["drop", "reshape", "nan"])
def test_every_tensor_is_checked(fitted, name, case, tmp_path):
    path = _saved(fitted, name, tmp_path)
    tensors = load_file(str(path / "weights.safetensors"))
    for key in sorted(tensors):
        t = dict(tensors)
        if case == "drop":
            del t[key]
        elif case == "reshape":
            t[key] = torch.zeros(*(s + 1 for s in t[key].shape), dtype=t[key].dtype)
        else:
            if not t[key].is_floating_point() or t[key].numel() == 0:
                continue
            t[key] = torch.full_like(t[key], float("nan"))
        save_file(t, str(path / "weights.safetensors"))
        with pytest.raises(ValueError, match="weights.safetensors"):
            type(fitted[name]).load(path)


def test_mismatched_layers_are_rejected(fitted, tmp_path):
    path = _saved(fitted, "txl", tmp_path)
    config = _config(path)
    config["params"]["n_layers"] = 2
    (path / "config.json").write_text(json.dumps(config))
    with pytest.raises(ValueError, match="weights.safetensors"):
        TXLForecaster.load(path)


# ---- 6. time zones ----------------------------------------------------------------------------
@pytest.mark.parametrize("name", list(FACTORIES))
def test_time_zone_names_survive_save_and_load_across_dst(name, tmp_path):
    # Europe/Berlin: clocks go forward on 2024-03-31 at 02:00
    df = make_frame(120, start="2024-03-26", tz="Europe/Berlin")
    model = FACTORIES[name]().fit(df)
    loaded = type(model).load(model.save(tmp_path / "m"))
    assert str(loaded.history_index_.tz) == "Europe/Berlin"
    new = make_frame(140, start="2024-03-26", tz="Europe/Berlin").iloc[120:]
    for m in (model, loaded):
        if name == "txl":
            m.update(new)
        fc = m.predict(history=None if name == "txl" else pd.concat([df, new]))
        assert str(fc.index.tz) == "Europe/Berlin"
        assert (fc.index[1:] - fc.index[:-1] == pd.Timedelta("1h")).all()
    if name == "txl":
        loaded.reset_state()
        assert str(loaded.get_state().last_timestamp.tz) == "Europe/Berlin"


# ---- 7. cutoffs ----------------------------------------------------------------------------
@pytest.mark.parametrize("name", list(FACTORIES))
@pytest.mark.parametrize("cutoffs", [[200], [-1], [10, 120], [1.5]])
def test_cutoffs_outside_the_data_are_rejected(fitted, data, name, cutoffs):
    with pytest.raises(ValueError, match="cutoffs"):
        fitted[name].rolling_forecasts(data.iloc[:120], np.array(cutoffs + [50]))


# ---- property suite -----------------------------------------------------------------------
LABELS = st.sampled_from(["str", "int", "multi"])
POISON = st.sampled_from([None, np.nan, np.inf, -np.inf, 1e30, 1e200, 1e300])


@st.composite
def frames(draw):
    n = draw(st.integers(0, 60))
    n_cols = draw(st.integers(1, 3))
    freq = draw(st.sampled_from(["h", "15min", "D", "MS"]))
    tz = draw(st.sampled_from([None, "UTC", "Europe/Berlin"]))
    dtype = draw(st.sampled_from(["float64", "float32", "int64", "bool"]))
    labels = draw(LABELS)
    rng = np.random.default_rng(draw(st.integers(0, 2**16)))
    values = np.cumsum(rng.normal(size=(n, n_cols)), axis=0) * draw(
        st.sampled_from([1.0, 1e-3, 1e6]))
    df = pd.DataFrame(values, index=pd.date_range("2024-03-28", periods=n, freq=freq, tz=tz))
    if dtype == "bool":
        df = df > 0
    else:
        df = df.astype(dtype)
    poison = draw(POISON)
    if poison is not None and n and dtype.startswith("float"):
        with warnings.catch_warnings():  # 1e200 overflows float32 to inf: poison either way
            warnings.simplefilter("ignore", RuntimeWarning)
            df.iloc[draw(st.integers(0, n - 1)), draw(st.integers(0, n_cols - 1))] = poison
    df.columns = (["a", "b", "c"][:n_cols] if labels == "str" else list(range(n_cols))
                  if labels == "int"
                  else pd.MultiIndex.from_tuples([("x", str(i)) for i in range(n_cols)]))
    return df


def _check_call(model, call, frame: pd.DataFrame, before: pd.DataFrame | None) -> None:
    """Either a clear error that leaves the model as it was, or finite, well-formed forecasts."""
    kept = frame.copy(deep=True)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fc = call(model, frame)
    except (ValueError, TypeError) as err:
        assert str(err)
        if before is not None:
            _same(model.predict(), before)
    else:
        assert np.isfinite(fc.to_numpy()).all()
        assert fc.shape == (H, model.n_features_in_)
        assert list(fc.columns) == list(model.columns_)
        assert fc.index[0] > frame.index[-1]
        if isinstance(model, NaiveForecaster) and model.method == "last":
            assert (fc.to_numpy() == frame[model.columns_].to_numpy(float)[-1]).all()
    pd.testing.assert_frame_equal(frame, kept)


PROPERTY = settings(max_examples=25, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.function_scoped_fixture,
                                           HealthCheck.too_slow])


@pytest.mark.parametrize("name", list(FACTORIES))
@PROPERTY
@given(frame=frames())
def test_property_fit_on_any_frame(name, frame):
    def call(m, f):
        return m.fit(f).predict()

    _check_call(FACTORIES[name](), call, frame, None)


@pytest.mark.parametrize("name", list(FACTORIES))
@PROPERTY
@given(frame=frames())
def test_property_failed_calls_leave_predictions_bit_identical(fitted, name, frame):
    model = fresh(fitted, name)
    before = model.predict()

    def refit(m, f):
        return m.fit(f).predict()

    if len(frame) and set(map(str, frame.columns)) <= {"a", "b", "c"}:
        frame = frame.rename(columns=dict(zip(frame.columns, ["a", "b", "c"])))
    _check_call(model, lambda m, f: m.predict(history=f), frame, before)
    if name == "txl":
        _check_call(model, lambda m, f: m.update(f).predict(), frame, before)
    _check_call(copy.deepcopy(model), refit, frame, before)


@PROPERTY
@given(values=st.lists(st.sampled_from([0.5, -1.0, 20.0, np.nan, np.inf, 1e30, 1e200]),
                        min_size=1, max_size=12),
       shift=st.sampled_from([0, 0, 1, -1]))
def test_property_update_either_continues_cleanly_or_changes_nothing(fitted, values, shift):
    model = fresh(fitted, "txl")
    before, state = model.predict(), model.get_state()
    start = model.history_index_[-1] + (shift + 1) * model.freq_
    index = pd.date_range(start, periods=len(values), freq=model.freq_)
    new = pd.DataFrame({"a": values, "b": 20.0}, index=index)
    try:
        model.update(new)
    except ValueError as err:
        assert "new_df" in str(err)
        assert model.get_state() == state
        _same(model.predict(), before)
    else:
        assert shift == 0 and all(abs(v) < 1e3 for v in values)
        assert np.isfinite(model.predict().to_numpy()).all()


@pytest.mark.parametrize("others", [False, True])
def test_a_failed_save_leaves_the_earlier_save_intact(fitted, data, tmp_path, monkeypatch,
                                                     others):
    """A save that fails half way (here: the weights) keeps what `path` held before."""
    import txl_ts.persistence as base

    model = fitted["naive"]
    path = tmp_path / "model"
    model.save(path)
    if others:  # the user's own files in the directory survive either way
        (path / "notes.txt").write_text("mine")
    before = {p.name: p.read_bytes() for p in path.iterdir()}
    expected = type(model).load(path).predict()

    def broken(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(base, "save_file", broken)
    with pytest.raises(OSError, match="disk full"):
        model.save(path)
    with pytest.raises(OSError, match="disk full"):
        model.save(tmp_path / "new")
    assert {p.name: p.read_bytes() for p in path.iterdir()} == before
    assert not (tmp_path / "new").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model"]  # no temporary left
    pd.testing.assert_frame_equal(type(model).load(path).predict(), expected)
    monkeypatch.undo()
    model.save(path)  # overwriting works, and keeps the user's files
    assert ("notes.txt" in {p.name for p in path.iterdir()}) == others
    pd.testing.assert_frame_equal(type(model).load(path).predict(), expected)


@pytest.mark.parametrize("name", sorted(FACTORIES))
def test_changing_a_parameter_after_fit_is_named_until_refit(fitted, data, name):
    model = fresh(fitted, name)
    expected = model.predict()
    horizon = model.horizon
    model.set_params(horizon=horizon + 1)
    for call in (model.predict, lambda: model.predict(history=data.iloc[:120]),
                 lambda: model.predict_interval(0.8)):
        with pytest.raises(ValueError, match=f"horizon={horizon} -> {horizon + 1}.*refit"):
            call()
    model.set_params(horizon=horizon)  # an equal value is no change
    _same(model.predict(), expected)
    if "accelerator" in model.get_params():  # where the network runs is not part of the fit
        model.set_params(accelerator="cpu")
        _same(model.predict(), expected)
