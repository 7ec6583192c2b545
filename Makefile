# Two commands set everything up on a fresh machine: `make demo` and `make test`.
# Each Python version gets its own virtual environment (.venv for the default python3,
# .venv-3.X for the others found on PATH or under pyenv).
PYTHON ?= python3
VENV := .venv
DEFAULT_VERSION := $(shell $(PYTHON) -c 'import sys; print("%d.%d" % sys.version_info[:2])')
# Other supported interpreters present on this machine (python3.X on PATH, else pyenv's).
find_python = $(shell bash .ci/find-python $(1))
OTHER_PYTHONS := $(foreach v,$(filter-out $(DEFAULT_VERSION),3.11 3.12 3.13),$(v)=$(call find_python,$(v)))

.PHONY: demo test test-one bench install clean docs lint

$(VENV)/.installed: pyproject.toml setup.py
	test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	bash .ci/venv-install $(VENV) test,docs,dask
	touch $@

install: $(VENV)/.installed

# The tests also need JAX (backend="jax"; the jax extra): installed for `make test` only, so that
# `make demo` does not download it; `make test` installs everything in one pip run.
$(VENV)/.installed-jax: pyproject.toml setup.py
	test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	bash .ci/venv-install $(VENV) test,docs,dask,jax
	touch $(VENV)/.installed $@

demo: install
	$(VENV)/bin/python examples/demo.py

# Runs the whole suite on the default python3, then on every other supported version found.
# The engine's version-specific tests run whole on every Python. The suites that do not depend on
# the Python version run whole on the default one and a slice on each other (tests/conftest.py,
# SKAUTODIFF_SLICE: the two other Pythons take complementary halves); the property tests draw 400
# random programs on the default Python and 100 on each other one (they mostly exercise the
# symbolic rules).
export SKAUTODIFF_PROPERTY_EXAMPLES ?= 400
OTHER_PROPERTY_EXAMPLES ?= 100
test: $(VENV)/.installed-jax
	bash .ci/pytest-in $(VENV)
	@slice=0; for pair in $(OTHER_PYTHONS); do \
	  v=$${pair%%=*}; py=$${pair#*=}; venv=.venv-$$v; \
	  if [ -z "$$py" ]; then echo "== Python $$v not found: skipped"; continue; fi; \
	  if [ ! -f $$venv/.installed ] || [ pyproject.toml -nt $$venv/.installed ]; then \
	    (test -x $$venv/bin/python || $$py -m venv $$venv) && \
	    bash .ci/venv-install $$venv test,docs,dask,jax && touch $$venv/.installed || exit 1; \
	  fi; \
	  SKAUTODIFF_PROPERTY_EXAMPLES=$(OTHER_PROPERTY_EXAMPLES) SKAUTODIFF_SLICE=$$slice/2 \
	    bash .ci/pytest-in $$venv || exit 1; \
	  slice=$$((slice + 1)); \
	done

# The documentation site (doc/, the API reference from the docstrings, the gallery run from
# examples/plot_*.py), built offline with warnings as errors; open doc/_build/html/index.html.
docs: install
	cd doc && $(abspath $(VENV))/bin/python -m sphinx -b html -W --keep-going -q . _build/html
	@echo "The site is in doc/_build/html (open doc/_build/html/index.html)"
# The linter and the formatter's check over everything that is Python (configured in pyproject.toml).
LINTED := skautodiff tests benchmarks examples
lint: install
	$(VENV)/bin/python -m ruff check $(LINTED)
	$(VENV)/bin/python -m ruff format --check $(LINTED)

bench: install
	$(VENV)/bin/python -m pip install -q -e ".[bench]"
	$(VENV)/bin/python -m benchmarks.run
	SKAUTODIFF_TIERS=0 $(VENV)/bin/python -m benchmarks.dask_scaling

clean:
	rm -rf $(VENV) .venv-3.* *.egg-info doc/_build doc/generated doc/auto_examples
