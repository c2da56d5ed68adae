# `make demo` and `make test` are the whole set-up: the first call creates .venv from the machine's
# python3 and installs the project and every plugin distribution under plugins/ (editable); later
# calls skip the install unless a pyproject.toml or the constraints file changed.
#
# AIHWKIT=wheel (default): aihwkit's binary wheel with the torch it was compiled against, pinned by
# constraints/wheel-cpu.txt, in .venv. AIHWKIT=source: aihwkit built from source against a current
# torch (scripts/build-aihwkit.sh, about 6+ minutes; docs/install.md), pinned by
# constraints/source-cpu.txt, in .venv-source; `make test AIHWKIT=source` tests that build.
PYTHON ?= python3
AIHWKIT ?= wheel
ifeq ($(AIHWKIT),source)
VENV ?= .venv-source
CONSTRAINTS ?= constraints/source-cpu.txt
else ifeq ($(AIHWKIT),wheel)
VENV ?= .venv
CONSTRAINTS ?= constraints/wheel-cpu.txt
else
$(error AIHWKIT is 'wheel' or 'source', not '$(AIHWKIT)')
endif
PY := $(VENV)/bin/python
STAMP := $(VENV)/.aimc-installed
PLUGIN_DIRS := $(patsubst %/pyproject.toml,%,$(wildcard plugins/*/pyproject.toml))
DEMO_OUT ?= demo-output
PYTEST_ARGS ?=

.PHONY: install demo test test-all lint clean

install: $(STAMP)

$(STAMP): pyproject.toml $(wildcard plugins/*/pyproject.toml) $(CONSTRAINTS)
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
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

# The type check first: it takes seconds, and a type error fails CI as a test would.
test: $(STAMP)
	$(PY) -m mypy
	$(PY) -m pytest -m "not slow" $(PYTEST_ARGS)

test-all: $(STAMP)
	$(PY) -m pytest $(PYTEST_ARGS)

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(PY) -m mypy

clean:
	rm -rf $(VENV) $(DEMO_OUT) .pytest_cache .ruff_cache
