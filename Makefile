# `make demo` and `make test` are the whole set-up: the first call creates the pair's venv and
# installs the project and every plugin distribution under plugins/ (editable); later calls skip
# the install unless a pyproject.toml or the constraints file changed.
#
# PAIR picks a tested aihwkit + torch pair, each a binary wheel (nothing to compile):
#   PAIR=py312 (default): aihwkit 1.2.0 + torch 2.14.1 on Python 3.12, constraints/wheel-py312.txt
#   PAIR=py311: aihwkit 1.1.0 + torch 2.10 on Python 3.11, constraints/wheel-cpu.txt
# The pair that plain `make` picks lives in .venv (so every documented `.venv/bin/...` command
# runs it); another pair named with PAIR=... lives in .venv-PAIR (.venv-py311). A machine without
# any Python 3.12 gets py311 in .venv and one line saying so. A venv of the wrong Python (a .venv
# made before the default changed) is recreated, with one line saying so.
# The Python is found by scripts/find-python.sh (pythonX.Y on PATH, then pyenv's versions); pass
# PYTHON=/path/to/pythonX.Y to choose it. Why this default: docs/install.md ("Which pair"); it is
# DEFAULT_PAIR below (and aimc_plugins/training/pairs.py's DEFAULT_PAIR).
# AIHWKIT=source: aihwkit built from source against a current torch (scripts/build-aihwkit.sh,
# docs/install.md), pinned by constraints/source-cpu.txt, in .venv-source; `make test
# AIHWKIT=source` tests that build.
DEFAULT_PAIR := py312
# HOME_PAIR: the pair .venv holds, the default unless this machine has no Python 3.12.
HOME_PAIR := $(DEFAULT_PAIR)
ifeq ($(DEFAULT_PAIR),py312)
ifeq ($(shell scripts/find-python.sh 3.12),)
HOME_PAIR := py311
endif
endif
ifeq ($(origin PAIR),undefined)
PAIR := $(HOME_PAIR)
ifneq ($(PAIR),$(DEFAULT_PAIR))
$(info make: no Python 3.12 on PATH or in pyenv's versions, so the 3.11 pair (aihwkit 1.1.0): PAIR=py311; docs/install.md)
endif
endif
AIHWKIT ?= wheel
ifeq ($(AIHWKIT),source)
VENV ?= .venv-source
CONSTRAINTS ?= constraints/source-cpu.txt
PY_VERSION := 3.11
else ifeq ($(AIHWKIT),wheel)
VENV ?= $(if $(filter $(PAIR),$(HOME_PAIR)),.venv,.venv-$(PAIR))
ifeq ($(PAIR),py311)
CONSTRAINTS ?= constraints/wheel-cpu.txt
PY_VERSION := 3.11
else ifeq ($(PAIR),py312)
CONSTRAINTS ?= constraints/wheel-py312.txt
PY_VERSION := 3.12
else
$(error PAIR is 'py311' (aihwkit 1.1.0) or 'py312' (aihwkit 1.2.0), not '$(PAIR)')
endif
else
$(error AIHWKIT is 'wheel' or 'source', not '$(AIHWKIT)')
endif
# Deferred (=): looked for only when a venv is to be created.
PYTHON ?= $(shell scripts/find-python.sh $(PY_VERSION))
PY := $(VENV)/bin/python
STAMP := $(VENV)/.aimc-installed
# The Python an existing venv runs ("broken" when it does not run): a venv of another Python than
# the pair's is recreated, since the stamp's time alone cannot tell a .venv made for another pair.
VENV_HAS := $(shell test -e $(PY) && { $(PY) -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null || echo broken; })
STALE_VENV := $(if $(VENV_HAS),$(filter-out $(PY_VERSION),$(VENV_HAS)))
PLUGIN_DIRS := $(patsubst %/pyproject.toml,%,$(wildcard plugins/*/pyproject.toml))
DEMO_OUT ?= demo-output
PYTEST_ARGS ?=

.PHONY: install demo test test-all lint clean FORCE

install: $(STAMP)

$(STAMP): pyproject.toml $(wildcard plugins/*/pyproject.toml) $(CONSTRAINTS) $(if $(STALE_VENV),FORCE)
ifneq ($(STALE_VENV),)
	@echo "make: $(VENV) runs Python $(VENV_HAS) and PAIR=$(PAIR) needs $(PY_VERSION): recreating $(VENV)"
	rm -rf $(VENV)
endif
	@test -x $(PY) || scripts/new-venv.sh "$(PYTHON)" $(PY_VERSION) $(VENV) "PAIR=$(PAIR)"
	$(PY) -m pip install -q --upgrade pip
ifeq ($(AIHWKIT),source)
	PYTHON=$(PYTHON) scripts/build-aihwkit.sh --venv $(VENV) --constraints $(CONSTRAINTS)
endif
	$(PY) -m pip install -q -c $(CONSTRAINTS) -e ".[test,data,dask,dev,pandas]" \
		$(foreach dir,$(PLUGIN_DIRS),-e ./$(dir))
	@touch $(STAMP)

# The sweep engine on a shipped spec: a second `make demo` finds every run in the store and only
# rewrites the report.
demo: $(STAMP)
	$(VENV)/bin/aimc compare recipes/specs/digits-demo.toml --out $(DEMO_OUT) --no-report
	$(VENV)/bin/aimc report $(DEMO_OUT)

# The browser first (Debian's chromium + chromedriver for tests/test_report_browser.py): quiet when
# installed, apt-get as root when not, never failing `make test` by itself (the test then skips, or
# fails under CI=true; AIMC_INSTALL_BROWSER=no skips the install). Then the type check: it takes
# seconds, and a type error fails CI as a test would.
test: $(STAMP)
	@scripts/install-browser.sh
	$(PY) -m mypy
	$(PY) -m pytest -m "not slow" $(PYTEST_ARGS)

test-all: $(STAMP)
	@scripts/install-browser.sh
	$(PY) -m pytest $(PYTEST_ARGS)

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(PY) -m mypy

FORCE:

clean:
	rm -rf $(VENV) $(DEMO_OUT) .pytest_cache .ruff_cache
