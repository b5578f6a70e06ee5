# robot-rl: `make demo` runs the main job on embedded defaults, `make test` the test suite.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: setup test lint demo demo-quick bench clean

setup: $(STAMP)

# Re-installs only when pyproject.toml changes; a second `make setup` is a no-op.
$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev,bench]'
	touch $(STAMP)

lint: setup
	$(PY) -m ruff check .

test: setup lint
	$(PY) -m pytest -q

# `make demo` reruns into demo_out/ by design: --force replaces its previous outputs (the CLI
# itself refuses a used --out without it).
demo: setup
	$(VENV)/bin/robot-rl demo --force

demo-quick: setup
	$(VENV)/bin/robot-rl demo --quick --force

bench: setup
	$(PY) bench/sim_throughput.py
	$(PY) bench/sim2sim_gap.py

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .ruff_cache
