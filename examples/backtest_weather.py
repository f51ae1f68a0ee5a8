"""The full weather backtest: TXL (with and without memory) against ARIMA with AIC-selected
orders, LSTM and naive forecasts, full training budgets, every stride-1 test window.

    python examples/backtest_weather.py [--horizon 96] [--seed 0] [--out backtest_weather]

This is `python -m txl_ts demo --full --data weather`; see txl_ts/demo.py.
"""

import sys

from txl_ts.__main__ import main

if __name__ == "__main__":
    args = sys.argv[1:]
    if "--out" not in args:
        args += ["--out", "backtest_weather"]
    sys.exit(main(["demo", "--full", "--data", "weather", *args]))
