# Two commands, each doing its own set-up on a fresh machine:
#   make demo   the weather and load backtest (TXL vs ARIMA, LSTM and naive)
#   make test   the test suite
.PHONY: demo test lint setup

setup:
	bash scripts/setup.sh

demo: setup
	.venv/bin/python -m txl_ts demo

test: setup
	.venv/bin/python -m pytest

lint: setup
	.venv/bin/ruff check txl_ts tests examples benchmarks experiments
