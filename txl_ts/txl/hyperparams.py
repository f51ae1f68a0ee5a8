"""The parameters of `TXLForecaster`, declared once (`txl_ts.params`): its constructor's
signature, constraints, docstring, search space and saved configuration all follow them."""

from __future__ import annotations

from numbers import Real

from ..params import (
    ACCELERATOR,
    BATCH_SIZE,
    COVARIATES,
    DROPOUT,
    HORIZON,
    ID_COL,
    LOOKBACK,
    LR,
    MAX_EPOCHS,
    PATIENCE,
    RANDOM_STATE,
    TARGETS,
    TIME_COL,
    TRAINER_KWARGS,
    VAL_SIZE,
    VERBOSE,
    WEIGHT_DECAY,
    Choice,
    Choices,
    FloatRange,
    Follows,
    IntRange,
    Param,
    Range,
    Ratio,
    Relative,
    non_negative_int,
    positive_int,
)


def default_stride(patch_len: int, horizon: int) -> int:
    """`stride=None`: one token per patch, or per half patch when the horizon is at most two
    patches. The newest token ends up to stride - 1 rows before a forecast origin, and that
    staleness is a large part of a short horizon. On validation (seed 0; docs/benchmarks.md
    section 4, fifth file), a half stride lowered the MSE at 24 and 48 hours ahead in every
    cell where the network trained (by 0.2% to 2.3%) and raised it by at most 0.3% where the
    ridge start was kept; at 96 hours it raised it by 0.45% on average. Saved models keep the
    stride they were fitted with."""
    return max(1, patch_len // 2) if horizon <= 2 * patch_len else patch_len


TXL_PARAMS = (
    HORIZON,
    Param("patch_len", "auto", [positive_int(), Choices("auto")],
          "Rows per token. \"auto\" is the series' season (24 hourly, 48 half-hourly, 7 "
          "daily; see auto_patch_len). Set it for series whose season the frequency does "
          "not tell; longer patches mean fewer tokens (faster, coarser).",
          search=Relative((0.5, 1, 2), unit="the data's default patch (one season)",
                          at_least=4, fallback=(8, 16, 32))),
    Param("stride", None, [positive_int(), None],
          "Rows between the starts of consecutive patches, at most patch_len. None is "
          "patch_len, or half of it when the horizon is at most two patches "
          "(default_stride): the newest token is then fresher at short horizons. Smaller "
          "strides give more tokens, at more cost.",
          search=Ratio("patch_len", (0.5, 1.0))),
    LOOKBACK.but(
        doc="Rows the linear path reads before a forecast origin (at least patch_len). "
            "\"auto\" is 14 seasons (14 * patch_len without a known season). Shorten it "
            "for short series; lengthen it when a longer cycle matters.",
        search=Relative((2, 4, 8, 14), unit="the data's season (its patch without one)")),
    Param("norm_window", None, [positive_int(), None],
          "Rows of the causal mean (and standard deviation, with norm_scale) by which "
          "tokens and forecasts are normalised. None is lookback. Shorten it to follow "
          "level changes faster."),
    Param("norm_scale", False, ["boolean"],
          "Divide by the causal standard deviation too (RevIN), not only subtract the "
          "mean. Try True when the amplitude of the series changes over time."),
    Param("d_model", 64, [positive_int()],
          "Width of the token embeddings and attention layers; n_heads must divide it. "
          "Larger for long, rich series; smaller to train and stream faster.",
          search=Choice((16, 32, 64, 128))),
    Param("n_heads", 4, [positive_int()],
          "Attention heads per layer; must divide d_model. More heads attend to more "
          "patterns at once, each in d_model / n_heads dimensions.",
          search=Choice((1, 2, 4, 8))),
    Param("n_layers", 2, [positive_int()],
          "Transformer-XL layers, each with a memory of its own. More layers fit more "
          "complex dynamics, at more cost per token.",
          search=IntRange(1, 3)),
    Param("d_ff", 128, [positive_int()],
          "Hidden width of each layer's feed-forward block; usually twice d_model (the "
          "tuner keeps that ratio).",
          search=Follows("d_model", 2)),
    DROPOUT.but(search=FloatRange(0.0, 0.3)),
    Param("segment_len", 8, [positive_int()],
          "Tokens processed together as one segment; the memory carries context from "
          "segment to segment. With mem_len it sets how far back attention reaches.",
          search=Choice((8, 16, 32))),
    Param("mem_len", 16, [non_negative_int()],
          "Cached layer inputs of earlier tokens that every layer attends to besides the "
          "current segment; 0 disables the memory (attention within the segment only). "
          "A longer memory sees further back, at more cost per token.",
          search=Choice((0, 16, 32, 64))),
    Param("covariate_width", 32, [non_negative_int()],
          "Hidden width of the future-covariate encoder: a small network per horizon step "
          "that reads the future-known covariates at that step (future_covariates, "
          "calendar, holidays) with the newest token's context and corrects the forecast, "
          "beside the linear ARX term. 0 keeps only the linear term. Ignored without "
          "future-known covariates.",
          search=Choice((0, 16, 32, 64))),
    Param("covariate_dropout", 0.1, [Range(Real, 0, 1, closed="left")],
          "Dropout inside the future-covariate encoder in training. Raise it when the "
          "covariates' effect overfits. Ignored without future-known covariates.",
          search=FloatRange(0.0, 0.3), training_only=True),
    Param("n_segments", 4, [positive_int()],
          "Consecutive segments in one training sample (at a random position); more "
          "segments train the memory over longer spans.",
          training_only=True),
    Param("burn_in", 0, [non_negative_int(), None],
          "Leading segments of each training sample that only warm the memory, without "
          "gradients; must be smaller than n_segments. None is half of n_segments. On "
          "validation no warm-up beat scoring every token (0).",
          training_only=True),
    Param("stateful", False, ["boolean"],
          "Train on consecutive segments of batch_size parallel streams in time order, "
          "carrying the memory from batch to batch, instead of samples at random "
          "positions.",
          training_only=True),
    LR.but(default=3e-4, search=FloatRange(1e-4, 1e-2, log=True)),
    WEIGHT_DECAY,
    Param("loss", "huber", [Choices("huber", "mse", "mae")],
          "Training loss: \"huber\" (robust to outliers), \"mse\", or \"mae\" (as "
          "SegRNN). Validation and early stopping always score the MSE.",
          training_only=True),
    Param("linear_init", "ridge", [Choices("ridge", "ridge_lags", "seasonal")],
          "Warm start of the linear path: \"ridge\" fits it by ridge regression towards "
          "the seasonal naive (or towards repeat-last when that validates over 1% lower), "
          "with the future-known covariates at each step beside the lags (a linear ARX "
          "map); \"ridge_lags\" fits the lags alone, the covariates' weights starting at "
          "zero; \"seasonal\" starts it as the plain seasonal naive.",
          training_only=True),
    BATCH_SIZE.but(doc=BATCH_SIZE.doc + " With stateful, the number of parallel "
                   "streams.", search=Choice((16, 32, 64))),
    MAX_EPOCHS,
    PATIENCE.but(default=5),
    VAL_SIZE,
    RANDOM_STATE,
    TARGETS,
    *COVARIATES,
    TIME_COL,
    ID_COL,
    ACCELERATOR,
    TRAINER_KWARGS,
    VERBOSE,
)
