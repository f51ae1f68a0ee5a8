"""The data layer: from a user's DataFrame to validated arrays, and forecasts back to frames.

- `validate`: timestamps, frequency, target columns, a private float64 copy of the values;
- `checks`: value checks that name the column, the timestamp and the value at fault;
- `panel`: one or more series on one frequency, of any lengths (a wide frame is one series);
- `scaling`: train-only standardisation per series and column;
- `stamps`: timestamps after an origin, and the fast path for streaming continuations;
- `output`: forecast arrays to frames with the user's own labels.
"""
