# leanlearn — two commands: `make demo` and `make test` (ruff, mypy, pytest). Both create .venv and install from the lock file.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install demo test test-slow lint lock models clean

install: $(STAMP)

$(STAMP): pyproject.toml requirements.lock
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c requirements.lock -e '.[dev]'
	@# bytecode for the editable source, as pip writes it for an installed package: every CLI call starts 0.2 s
	@# sooner where PYTHONDONTWRITEBYTECODE is set (a module edited later is compiled in memory, as always)
	$(BIN)/python -m compileall -q src
	touch $(STAMP)

demo: install
	$(BIN)/leanlearn demo

test: install
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/mypy
	@# the 25 slowest tests are listed at the end: where the suite's time goes, run after run
	$(BIN)/python -m pytest -q --durations=25

# The long checks (100k-rule pack, 1,000 x 2,000 table within 2 GB, kill -9 at many points, ...); CI runs them too.
test-slow: install
	$(BIN)/python -m pytest -q -m slow

lint: install
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/mypy

# Refresh the lock after changing dependencies in pyproject.toml.
lock: install
	$(BIN)/python -m pip freeze --exclude-editable --exclude leanlearn > requirements.lock

# Re-export the demo's AI4I pack into models/ai4i.<target>.json (what `leanlearn pack import` takes) and re-mine the
# 4TU example packs (models/4tu-setups.json, models/4tu-rejects.json).
models: install
	$(BIN)/python models/export_demo.py
	$(BIN)/python models/export_4tu.py

clean:
	rm -rf $(VENV) build dist .pytest_cache .ruff_cache
