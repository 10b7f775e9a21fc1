# racelane: every target sets itself up (virtualenv, Python packages, Debian
# libraries Qt needs) and then runs.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.racelane-installed

.PHONY: demo test bench lint setup samples clean package install-desktop uninstall-desktop

setup: $(STAMP)

$(STAMP): pyproject.toml setup.py tracer/record/_speedups.c tracer/analysis/_scanrows.c scripts/system-deps.sh
	bash scripts/system-deps.sh
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[gui,dev]'
	touch $(STAMP)

demo: setup
	$(PY) -m tracer.cli.main demo

lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports

test: lint
	QT_QPA_PLATFORM=offscreen $(PY) -m pytest -q

samples: setup
	$(PY) -m tracer.scenario.samples sample_traces

bench: setup
	$(PY) bench/run_all.py

# The one-folder bundle, for people without Python: dist/racelane/ and its .tar.gz
# (packaging/build_bundle.py reports what takes the space).
package: setup
	$(PY) packaging/build_bundle.py --archive

# The menu entry, icon, trace MIME type and launcher, for this user (~/.local/share);
# the launcher runs RACELANE (default: this checkout's .venv; or the bundle's
# dist/racelane/racelane). uninstall-desktop removes exactly what was installed.
RACELANE ?= $(abspath $(VENV))/bin/racelane
install-desktop: setup
	bash packaging/linux/install-desktop.sh --racelane '$(RACELANE)'

uninstall-desktop:
	bash packaging/linux/install-desktop.sh --uninstall

clean:
	rm -rf $(VENV) build dist *.egg-info .pytest_cache .mypy_cache .ruff_cache
