"""Adversarial probes, as a realistic but hostile user would try every estimator: odd column
labels and dtypes, time zones and daylight-saving changes, degenerate values, damaged model
files, and calls that fail half way. Each probe asserts either a clear error (the right type,
naming the column, timestamp, field or file) that leaves the model and the caller's frame as
they were, or a correct result.

Complements test_robustness.py, test_validation.py and test_estimator_api.py (reused here:
their tiny FACTORIES and frames); what those already cover is not repeated.
"""

from __future__ import annotations

import copy
import json
import shutil
import warnings

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from safetensors.torch import load_file, save_file
from test_robustness import FACTORIES, H, make_frame
from tolerance import assert_close

from txl_ts.persistence import CHECKSUMS, CorruptModelError, MissingModelFileError

NAMES = list(FACTORIES)
PROBE = settings(max_examples=8, deadline=None, derandomize=True,
                 suppress_health_check=[HealthCheck.function_scoped_fixture,
                                        HealthCheck.too_slow])


@pytest.fixture(scope="module")
def data() -> pd.DataFrame:
    return make_frame(160)


@pytest.fixture(scope="module")
def fitted(data):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return {name: make().fit(data.iloc[:120]) for name, make in FACTORIES.items()}


@pytest.fixture(scope="module")
def saved(fitted, tmp_path_factory):
    """Each fitted model saved once; tests copy the directory before damaging it."""
    root = tmp_path_factory.mktemp("saved")
    return {name: model.save(root / name) for name, model in fitted.items()}


def _same(a: pd.DataFrame, b: pd.DataFrame) -> None:
    pd.testing.assert_frame_equal(a, b, check_exact=True)


def _snapshot(df: pd.DataFrame) -> pd.DataFrame:
    return df.copy(deep=True)


def _unchanged(df: pd.DataFrame, kept: pd.DataFrame) -> None:
    """The caller's frame as it was: values, index, columns, dtypes, names and attrs."""
    pd.testing.assert_frame_equal(df, kept, check_exact=True)
    assert df.attrs == kept.attrs
    assert df.index.name == kept.index.name and df.columns.name == kept.columns.name


def _fails_cleanly(model, call, frame: pd.DataFrame, error=ValueError, match=None):
    """`call(frame)` raises `error` (matching `match`); model and frame are unchanged."""
    before = model.predict()
    kept = _snapshot(frame)
    with pytest.raises(error, match=match):
        call(frame)
    _same(model.predict(), before)
    _unchanged(frame, kept)


# ---- column labels ----------------------------------------------------------------------------
@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("labels", [[1.5, -2.25], ["a", 7], [np.int64(3), np.float64(0.5)]],
                         ids=["float", "mixed", "numpy"])
def test_float_and_mixed_labels_fit_forecast_and_round_trip(data, name, labels, tmp_path):
    df = data.iloc[:120].copy()
    df.columns = labels
    labels = list(df.columns)  # as pandas keeps them (numpy scalars may become floats)
    model = FACTORIES[name]().fit(df)
    assert list(model.predict().columns) == labels
    loaded = type(model).load(model.save(tmp_path / "m"))
    # the same labels of the same Python types: 7 stays an int, 1.5 a float
    assert loaded.columns_ == labels and [type(c) for c in loaded.columns_] == [
        type(c.item()) if isinstance(c, np.generic) else type(c) for c in labels]
    _same(loaded.predict(), model.predict())


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("label, shown", [(True, "True"), (None, "None"), (np.nan, "nan"),
                                          (("x", None), "None")])
def test_labels_that_cannot_be_saved_are_rejected_before_training(data, name, label, shown):
    df = data.iloc[:120].copy()
    df.columns = pd.Index(["a", label], dtype=object, tupleize_cols=False)
    kept = _snapshot(df)
    with pytest.raises(TypeError, match=f"column label {shown}.* is not supported"):
        FACTORIES[name]().fit(df)
    _unchanged(df, kept)


def test_duplicated_labels_are_named_in_every_call(fitted, data):
    model = copy.deepcopy(fitted["txl"])
    dup = data.iloc[:120].copy()
    dup.columns = ["b", "b"]
    for call in (model.fit, model.predict, model.update,
                 lambda f: model.fit(data.iloc[:100], validation_data=f)):
        _fails_cleanly(model, call, dup, match=r"duplicate column names \['b'\]")


def test_unhashable_or_missing_targets_are_named(data):
    make = FACTORIES["naive"]
    with pytest.raises(TypeError, match=r"targets must be a list of column labels; \['a'\]"):
        make(targets=[["a"]]).fit(data)
    with pytest.raises(ValueError, match=r"target columns \['zz'\] are not in the frame"):
        make(targets=["a", "zz"]).fit(data)


def test_a_time_col_named_as_a_target_is_named_as_the_time_col(data):
    df = data.reset_index(names="t")
    with pytest.raises(ValueError, match="column 't' is the time_col, so it cannot also be a "
                                         "target"):
        FACTORIES["naive"](targets=["t", "a"], time_col="t").fit(df)


# ---- dtypes -----------------------------------------------------------------------------------
NUMERIC = ["int8", "int16", "int32", "int64", "uint8", "uint64", "float32", "bool", "Int64",
           "Float64", "boolean", "Sparse[float64]"]


def _as_dtype(df: pd.DataFrame, dtype: str) -> pd.DataFrame:
    """`df` in `dtype`, through integers for integer and boolean dtypes."""
    if dtype in ("bool", "boolean"):
        return (df > df.median()).astype(dtype)
    if dtype[0] in "iuI":
        return (df * 4).round().astype("int64").astype(dtype)
    return df.astype(dtype)


@pytest.mark.parametrize("name", NAMES)
def test_every_numeric_dtype_forecasts_as_its_float64_values(fitted, data, name):
    model = fitted[name]
    for dtype in NUMERIC:
        history = _as_dtype(data.iloc[:120], dtype)
        kept = _snapshot(history)
        _same(model.predict(history=history), model.predict(history=history.astype("float64")))
        _unchanged(history, kept)


@pytest.mark.parametrize("name", NAMES)
@PROBE
@given(dtypes=st.lists(st.sampled_from(NUMERIC + ["float64"]), min_size=2, max_size=2),
       swap=st.booleans(), extra=st.sampled_from([None, "note", "flag"]))
def test_property_history_in_any_dtypes_and_column_order(fitted, data, name, dtypes, swap,
                                                         extra):
    """A history mixing dtypes, in either column order: the forecast of its float64 values in
    the fitted order, bit for bit, or (an extra column, without targets=) an error naming it."""
    model = fitted[name]
    history = pd.concat([_as_dtype(data.iloc[:120][[c]], d) for c, d in zip("ab", dtypes)],
                        axis=1)
    if swap:
        history = history[["b", "a"]]
    if extra is not None:
        history[extra] = "x" if extra == "note" else True
    kept = _snapshot(history)
    if extra is None:
        expected = model.predict(history=history[["a", "b"]].astype("float64"))
        _same(model.predict(history=history), expected)
    else:
        _fails_cleanly(model, model.predict, history, match=rf"unexpected \['{extra}'\]")
    _unchanged(history, kept)


def test_every_numeric_dtype_fits_exactly_like_float64(data):
    for dtype in NUMERIC:
        df = _as_dtype(data.iloc[:60], dtype)
        kept = _snapshot(df)
        for name in ("naive", "snaive"):
            got = FACTORIES[name]().fit(df)
            want = FACTORIES[name]().fit(df.astype("float64"))
            _same(got.predict(), want.predict())
            _same(got.predict_interval([0.5, 0.8]), want.predict_interval([0.5, 0.8]))
        _unchanged(df, kept)


@pytest.mark.parametrize("dtype", ["Int64", "Float64", "boolean"])
def test_pd_na_in_a_nullable_column_is_located(data, dtype):
    df = _as_dtype(data.iloc[:60], dtype)
    df.iloc[17, 1] = pd.NA
    kept = _snapshot(df)
    for name in NAMES:
        with pytest.raises(ValueError, match=r"NaN in column 'b' at 2024-01-01 17:00:00"):
            FACTORIES[name]().fit(df)
    _unchanged(df, kept)


@pytest.mark.parametrize("kind", ["object numbers", "category", "string", "datetime",
                                  "timedelta", "complex"])
def test_non_numeric_target_columns_are_named_with_their_dtype(fitted, data, kind):
    df = data.iloc[:120].copy()
    column = {"object numbers": df["b"].astype(object), "category": df["b"].astype("category"),
              "string": df["b"].astype(str).astype("string"), "datetime": df.index.to_series(),
              "timedelta": pd.to_timedelta(df["b"], unit="s"),
              "complex": df["b"].astype(complex)}[kind]
    df["b"] = column.to_numpy() if kind == "datetime" else column
    for name in NAMES:
        with pytest.raises(TypeError, match=r"non-numeric columns \['b'\]"):
            FACTORIES[name]().fit(df)
        with pytest.raises(TypeError, match=r"target column 'b' is not numeric \(dtype "):
            FACTORIES[name](targets=["a", "b"]).fit(df)
    model = copy.deepcopy(fitted["arima"])
    for call in (model.predict, model.update, model.fit):
        _fails_cleanly(model, call, df, error=TypeError, match="'b'")


# ---- time -------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", NAMES)
def test_hourly_data_across_both_berlin_clock_changes(name):
    """Spring forward (2024-03-31 02:00 does not exist) and fall back (2024-10-27 02:00
    happens twice): an hourly series in local time stays hourly in absolute time."""
    for start in ("2024-03-28", "2024-10-24"):
        df = make_frame(140, start=start, tz="Europe/Berlin")
        model = FACTORIES[name]().fit(df.iloc[:100])
        for fc in (model.predict(), model.predict(history=df.iloc[:120]),
                   model.update(df.iloc[100:130]).predict()):
            assert str(fc.index.tz) == "Europe/Berlin"
            assert (fc.index[1:] - fc.index[:-1] == pd.Timedelta("1h")).all()  # absolute time
        assert model.predict().index[0] == df.index[130]


@pytest.mark.parametrize("name", NAMES)
def test_naive_and_aware_timestamps_never_mix(fitted, name):
    aware = make_frame(140, tz="Europe/Berlin")
    model = FACTORIES[name]().fit(aware.iloc[:120])
    naive = aware.tz_localize(None)
    _fails_cleanly(model, model.update, naive.iloc[120:124], match="time-zone naive")
    _fails_cleanly(model, lambda f: model.fit(aware.iloc[:120], validation_data=f),
                   naive.iloc[120:], match="validation_data has time-zone naive")
    plain = copy.deepcopy(fitted[name])  # fitted on naive stamps
    utc = make_frame(160, tz="UTC")
    _fails_cleanly(plain, plain.predict, utc.iloc[:120], match="time-zone aware")
    _fails_cleanly(plain, plain.update, utc.iloc[120:124], match="time-zone aware")


@pytest.mark.parametrize("name", NAMES)
def test_broken_timelines_in_update_and_history_leave_the_model_as_it_was(fitted, data, name):
    model = copy.deepcopy(fitted[name])
    new = data.iloc[120:126]
    cases = {
        "duplicate timestamp": pd.concat([new.iloc[:3], new.iloc[2:]]),
        "not sorted": new.iloc[[0, 2, 1, 3, 4, 5]],
        "gap": new.drop(new.index[3]),
        "overlap": data.iloc[118:124],
        "starts": data.iloc[122:126],
    }
    for message, frame in cases.items():
        _fails_cleanly(model, model.update, frame, match=message)
    history = data.iloc[:120]
    for message, frame in (("duplicate timestamp", pd.concat([history.iloc[:60],
                                                             history.iloc[59:]])),
                           ("not sorted", history.iloc[::-1]),
                           ("irregular frequency", history.drop(history.index[50]))):
        _fails_cleanly(model, model.predict, frame, match=message)


@pytest.mark.parametrize("name", NAMES)
def test_a_frequency_change_between_fit_and_update_is_refused(fitted, data, name):
    model = copy.deepcopy(fitted[name])
    last = data.index[119]
    daily = pd.DataFrame(20.0, columns=["a", "b"],
                         index=pd.date_range(last + pd.Timedelta("1h"), periods=4, freq="D"))
    _fails_cleanly(model, model.update, daily,
                   match=r"continue the timeline after 2024-01-05 23:00:00 at frequency h: it "
                         r"has row 1 at 2024-01-07 00:00:00, expected 2024-01-06 01:00:00 "
                         r"\(gap\)")
    quarter = make_frame(120, freq="15min")
    _fails_cleanly(model, model.predict, quarter, match="frequency 15min, but the model was "
                                                        "fitted at h")


@pytest.mark.parametrize("name", NAMES)
def test_single_rows(fitted, data, name):
    model = copy.deepcopy(fitted[name])
    one = data.iloc[120:121]
    model.update(one)  # one row continues the timeline: its step is the fitted one
    assert model.predict().index[0] == data.index[121]
    need = model._min_history_length()[0]
    if need == 1:  # the naive "last" rule needs one row, and the fitted frequency continues it
        _same(model.predict(history=one), model.predict(history=data.iloc[119:121]))
    else:
        _fails_cleanly(model, model.predict, one, match=f"has 1 rows; at least {need}")
    _fails_cleanly(model, model.fit, one, match="has 1 rows")
    _fails_cleanly(model, model.update, data.iloc[121:121], match="new_df is empty")


# ---- values -----------------------------------------------------------------------------------
@pytest.mark.parametrize("name", NAMES)
def test_a_column_constant_in_training_is_forecast_as_that_constant(name, data):
    """The network never saw the column move; forecasting it in raw units as noise around the
    constant (what DLinear and the LSTM did) would be silently wrong."""
    df = data.iloc[:120] * 1e-3
    df["b"] = 7e-3
    model = FACTORIES[name]().fit(df)
    b = model.predict()["b"].to_numpy()
    if name == "arima":  # a fitted mean, not a copied value: exact up to the optimiser
        np.testing.assert_allclose(b, 7e-3, rtol=0, atol=1e-4)
    else:
        assert (b == 7e-3).all()
    # the column moves in a later history: forecasts follow its last value, still finite
    history = df.iloc[:110].assign(b=np.linspace(7e-3, 9e-3, 110))
    fc = model.predict(history=history)
    assert np.isfinite(fc.to_numpy()).all()
    if name.endswith("naive"):  # a rule without a scale: any finite value is fine
        return
    # a value far beyond the training spread, on the unit scale of a constant column, is named
    history.iloc[100, 1] = 1e7
    _fails_cleanly(model, model.predict, history, match=r"column 'b' at 2024-01-05 04:00")


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("scale", [1e-300, 1e300 / 40])
def test_extreme_but_representable_scales_forecast_in_the_data_units(name, scale, data):
    df = data.iloc[:120] * scale
    model = FACTORIES[name]()
    if scale > 1 and not name.endswith("naive"):
        with pytest.raises(ValueError, match="cannot be standardised|robust standard"):
            model.fit(df)
        return
    fc = model.fit(df).predict()
    assert np.isfinite(fc.to_numpy()).all()
    # within the data's own order of magnitude: 20 +- 3 units of `scale`, with room for the
    # untrained networks (tiny models, one epoch) but not for a unit error
    assert (np.abs(fc.to_numpy()) < 1e3 * scale).all()


# ---- damaged model files ----------------------------------------------------------------------
FILES = ("config.json", "calibration.json", "weights.safetensors")


def _damaged_copy(saved, name, tmp_path, file, content):
    path = tmp_path / f"{name}-{file}"
    shutil.rmtree(path, ignore_errors=True)
    shutil.copytree(saved[name], path)
    target = path / file
    if content is None:  # a directory where the file should be
        target.unlink()
        target.mkdir()
    else:
        target.write_bytes(content)
    return path


def _load_fails_naming(model_type, path, file, error=CorruptModelError) -> None:
    with pytest.raises(error) as info:
        model_type.load(path)
    assert isinstance(info.value, ValueError)
    assert file in str(info.value)


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("file", FILES)
def test_empty_truncated_or_replaced_files_are_named(fitted, saved, name, file, tmp_path):
    raw = (saved[name] / file).read_bytes()
    for content in (b"", raw[: len(raw) // 2], raw[:-1], raw + b"\x00", b"null"):
        path = _damaged_copy(saved, name, tmp_path, file, content)
        if file == "calibration.json" and content == b"null":  # a model that never had one
            continue
        _load_fails_naming(type(fitted[name]), path, file)
    path = _damaged_copy(saved, name, tmp_path, file, None)
    _load_fails_naming(type(fitted[name]), path, file, MissingModelFileError)


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("file", FILES)
@PROBE
@given(where=st.floats(0, 1, exclude_max=True), bit=st.integers(0, 7))
def test_a_flipped_bit_anywhere_never_loads_wrong_forecasts(fitted, saved, name, file,
                                                           tmp_path, where, bit):
    """A flipped digit in a weight, a scaler mean or a quantile table keeps the file well
    formed; without checksums it loaded and forecast other numbers without a word."""
    raw = bytearray((saved[name] / file).read_bytes())
    i = int(where * len(raw))
    raw[i] ^= 1 << bit
    path = _damaged_copy(saved, name, tmp_path, file, bytes(raw))
    model = fitted[name]
    try:
        loaded = type(model).load(path)
    except CorruptModelError as err:
        assert file in str(err)
    else:  # a flip JSON cannot see (whitespace inside the layout): the same model
        _same(loaded.predict(), model.predict())
        _same(loaded.predict_interval([0.5, 0.9]), model.predict_interval([0.5, 0.9]))


@pytest.mark.parametrize("name", NAMES)
def test_a_changed_weight_or_table_is_caught_by_its_checksum(fitted, saved, name, tmp_path):
    model = type(fitted[name])
    tensors = load_file(str(saved[name] / "weights.safetensors"))
    key = sorted(k for k, v in tensors.items() if v.is_floating_point() and v.numel())[0]
    tensors[key] = tensors[key] + 1e-3  # well formed, finite, the right shape
    path = _damaged_copy(saved, name, tmp_path, "weights.safetensors", b"")
    save_file(tensors, str(path / "weights.safetensors"))
    _load_fails_naming(model, path, "weights.safetensors: content does not match its SHA-256")
    config = json.loads((saved[name] / "config.json").read_text())
    config["fitted"]["scaler"]["mean"][0] += 1.0
    path = _damaged_copy(saved, name, tmp_path, "config.json", json.dumps(config).encode())
    _load_fails_naming(model, path, "config.json: content does not match")
    state = json.loads((saved[name] / "calibration.json").read_text())
    # the widest calibrated level (the ones above it are null: too few windows) made wider:
    # still non-negative and non-decreasing in the level, so only the digest can tell
    top = max(k for k, level in enumerate(state["abs_table"]) if level[0][0] is not None)
    state["abs_table"][top][0][0] *= 2
    path = _damaged_copy(saved, name, tmp_path, "calibration.json", json.dumps(state).encode())
    _load_fails_naming(model, path, "calibration.json: content does not match")
    # the way out the message offers: without the field, a deliberate edit loads unchecked
    config = json.loads((path / "config.json").read_text())
    del config[CHECKSUMS]
    (path / "config.json").write_text(json.dumps(config))
    edited = model.load(path).calibration_.abs_table[top, 0, 0]
    assert edited == 2 * fitted[name].calibration_.abs_table[top, 0, 0] > 0


@pytest.mark.parametrize("name", ["naive", "txl"])
def test_editing_a_training_only_parameter_keeps_the_checksum_valid(fitted, saved, name,
                                                                   tmp_path):
    config = json.loads((saved[name] / "config.json").read_text())
    training_only = [p.name for p in type(fitted[name]).PARAMS if p.training_only]
    for key in training_only:
        config["params"][key] = type(fitted[name])().get_params()[key]
    path = _damaged_copy(saved, name, tmp_path, "config.json",
                         json.dumps(config, indent=4).encode())  # and another layout
    _same(type(fitted[name]).load(path).predict(), fitted[name].predict())


WRONG_TYPES = [None, True, -1, 1.5, "x", [], {}, [[1]]]


@pytest.mark.parametrize("name", ["naive", "arima", "txl"])
def test_every_calibration_field_of_the_wrong_type_is_named(fitted, saved, name, tmp_path):
    state = json.loads((saved[name] / "calibration.json").read_text())
    for key in sorted(state):
        for value in WRONG_TYPES:
            if value == state[key]:
                continue
            damaged = {**state, key: value}
            path = _damaged_copy(saved, name, tmp_path, "calibration.json",
                                 json.dumps(damaged).encode())
            config = json.loads((path / "config.json").read_text())
            del config[CHECKSUMS]  # the field checks, not the digest, must catch these
            (path / "config.json").write_text(json.dumps(config))
            _load_fails_naming(type(fitted[name]), path, "calibration.json")


@pytest.mark.parametrize("name", NAMES)
def test_every_config_field_of_the_wrong_type_is_named(fitted, saved, data, name, tmp_path):
    """Each field of config.json's fitted and extra sections replaced by each JSON type (the
    checksums removed, so that the field checks must see it): a CorruptModelError naming
    config.json, or, for a field that does not shape forecasts, the same forecasts."""
    config = json.loads((saved[name] / "config.json").read_text())
    del config[CHECKSUMS]
    history = data.iloc[:110] + 0.5  # another origin and level: seasonal terms, scaling
    fields = [(section, key) for section in ("fitted", "extra") for key in config[section]
              if key != "fit_summary"] + [("format_version",), ("class",)]
    for field in fields:
        for value in WRONG_TYPES:
            damaged = copy.deepcopy(config)
            target = damaged
            for part in field[:-1]:
                target = target[part]
            if target[field[-1]] == value and type(target[field[-1]]) is type(value):
                continue
            target[field[-1]] = value
            path = _damaged_copy(saved, name, tmp_path, "config.json",
                                 json.dumps(damaged).encode())
            try:
                loaded = type(fitted[name]).load(path)
            except CorruptModelError as err:
                assert "config.json" in str(err), (field, value, err)
            else:  # an informational field (e.g. ARIMA's aic): the same forecasts
                for call in (lambda m: m.predict(), lambda m: m.predict(history=history),
                             lambda m: m.predict_interval(0.5)):
                    assert call(loaded).equals(call(fitted[name])), (field, value)


# ---- failed calls change nothing --------------------------------------------------------------
@pytest.mark.parametrize("name", NAMES)
def test_set_params_with_a_bad_name_changes_no_parameter(fitted, name):
    model = copy.deepcopy(fitted[name])
    before, params = model.predict(), model.get_params()
    with pytest.raises(ValueError, match="Invalid parameter 'nope'"):
        model.set_params(horizon=H + 1, nope=1)
    with pytest.raises(ValueError, match="'targets' has no sub-parameters"):
        model.set_params(horizon=H + 1, targets__x=1)
    assert model.get_params() == params
    _same(model.predict(), before)


@pytest.mark.parametrize("name", NAMES)
def test_failing_calls_leave_attrs_names_and_values_of_the_callers_frame(fitted, data, name):
    model = copy.deepcopy(fitted[name])
    bad = data.iloc[:124].copy()
    bad.attrs["unit"] = "kW"
    bad.index.name, bad.columns.name = "when", "sensor"
    bad.iloc[121, 0] = np.inf
    for call in (model.predict, lambda f: model.update(f.iloc[120:]), model.fit,
                 lambda f: model.rolling_forecasts(f, np.array([122])),
                 lambda f: model.predict_interval(0.8, f),
                 lambda f: model.fit(data.iloc[:100], validation_data=f.iloc[100:])):
        _fails_cleanly(model, call, bad, match=r"infinite value in column 'a' at 2024-01-06 "
                                               r"01:00:00")
    good = bad.copy()
    good.iloc[121, 0] = 20.0
    kept = _snapshot(good)
    model.predict(history=good)
    model.rolling_forecasts(good, np.array([119, 123]))
    model.update(good.iloc[120:])
    _unchanged(good, kept)


# ---- horizon, levels, update and cutoff arguments ---------------------------------------------
@pytest.mark.parametrize("name", NAMES)
def test_numpy_horizons_and_levels(fitted, name):
    model = fitted[name]
    full = model.predict()
    for horizon in (np.int8(2), np.uint64(H), np.int64(1)):
        _same(model.predict(horizon=horizon), full.iloc[: int(horizon)])
    for bad in (np.float64(2.0), -1, 0, H + 1, "2", np.array([2])):
        with pytest.raises(ValueError, match="horizon"):
            model.predict(horizon=bad)
    reference = model.predict_interval([0.5, 0.8])
    assert list(reference.columns.get_level_values(1).unique()) == [0.5, 0.8]
    for levels in ([0.8, 0.5, 0.8], np.array([0.5, 0.8]), (np.float32(0.5), 0.8),
                   pd.Series([0.8, 0.5])):  # sorted, once each: the same frame
        _same(model.predict_interval(levels), reference)
    for bad, message in ((0, "strictly between"), (1, "strictly between"), (-0.1, "strictly"),
                         (np.nan, "strictly"), (0.999, "above 0.99"), ([], "non-empty"),
                         (np.array([[0.5]]), "non-empty"), ("0.9", "numbers in"),
                         ([0.5, None], "numbers in")):
        with pytest.raises(ValueError, match=message):
            model.predict_interval(bad)
    with pytest.raises(ValueError, match="outside"):
        model.predict_quantiles([0.5, 0.999])


@pytest.mark.parametrize("name", NAMES)
def test_update_takes_columns_in_any_order_and_extra_ones_only_with_targets(fitted, data,
                                                                           name):
    model = copy.deepcopy(fitted[name])
    other = copy.deepcopy(model)
    model.update(data.iloc[120:124][["b", "a"]])
    other.update(data.iloc[120:124])
    _same(model.predict(), other.predict())
    _fails_cleanly(model, model.update, data.iloc[124:128].assign(c=1.0),
                   match=r"unexpected \['c'\]")


@pytest.mark.parametrize("name", NAMES)
def test_cutoffs_of_every_shape(fitted, data, name):
    model = fitted[name]
    df = data.iloc[:120]
    got = model.rolling_forecasts(df, [np.int8(100), 90, 90, np.uint16(80)])
    for i, c in enumerate((100, 90, 90, 80)):  # unsorted and repeated: each on its own
        # the batched pass and predict() order float32 sums (ARIMA: a filter over the rows)
        # differently
        assert_close(got[i], model.predict(history=df.iloc[: c + 1]), np.float32, ops=c + 1)
    assert model.rolling_forecasts(df, np.array([], dtype=np.int64)).shape == (0, H, 2)
    for bad in (np.array([50.0]), [50, 60.5], 50, np.array([[50]]), np.array([True]),
                ["50"], [120], [-5]):
        with pytest.raises(ValueError, match="cutoffs"):
            model.rolling_forecasts(df, bad)


def test_set_state_with_something_else_keeps_the_state(fitted):
    model = copy.deepcopy(fitted["txl"])
    before, state = model.predict(), model.get_state()
    for bad in (None, {}, state.stream):
        with pytest.raises(TypeError, match="expected a TXLState"):
            model.set_state(bad)
    assert model.get_state() == state
    _same(model.predict(), before)


def test_the_saved_weights_hash_is_of_the_file_written(fitted, saved):
    """A save is self-consistent: the listed digests are those of the files beside it."""
    import hashlib

    for path in saved.values():
        checksums = json.loads((path / "config.json").read_text())[CHECKSUMS]
        for file in ("calibration.json", "weights.safetensors"):
            assert checksums[file] == hashlib.sha256((path / file).read_bytes()).hexdigest()
        assert set(checksums) == set(FILES)
