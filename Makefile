# Two commands on a fresh machine:
#   make train   — set up .venv and train REINFORCE on CartPole-v1 until solved
#   make test    — set up .venv, check the code with ruff and run the test suite
# The CPU build of torch is installed first; a bare `torch` requirement would pull a multi-GB
# CUDA build.  Elsewhere, point pip at PyTorch's CPU wheel index with TORCH_PIP_ARGS.

PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
TORCH_SPEC ?= torch==2.13.0
TORCH_PIP_ARGS ?=
OUT ?= runs/cartpole

.PHONY: setup train lint test bench mutate clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet $(TORCH_PIP_ARGS) "$(TORCH_SPEC)"
	$(PY) -m pip install --quiet -e ".[dev,box2d,mujoco]"
	touch $@

setup: $(VENV)/.installed

train: setup
	$(PY) scripts/train_cartpole.py --out $(OUT)

lint: setup
	$(PY) -m ruff check .

test: lint
	$(PY) -m pytest

bench: setup
	$(PY) -m pip install --quiet -e ".[dev,bench]"
	$(PY) scripts/bench_optimizer.py
	$(PY) scripts/benchmarks.py
	$(PY) scripts/bench_escape.py
	$(PY) scripts/bench_cartpole.py
	$(PY) scripts/bench_cartpole.py --nproc 2
	$(PY) scripts/bench_pg.py
	$(PY) scripts/bench_games.py
	$(PY) scripts/bench_last_iterate.py
	$(PY) scripts/bench_multiagent.py
	$(PY) scripts/bench_turn_based.py
	$(PY) scripts/bench_extensive_games.py
	$(PY) scripts/bench_extensive_sampled_play.py
	$(PY) scripts/bench_applications.py
	$(PY) scripts/bench_game_applications.py

mutate: setup
	$(PY) scripts/mutate.py

clean:
	rm -rf $(VENV) runs build *.egg-info
