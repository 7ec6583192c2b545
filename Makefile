# Two commands set everything up on a fresh machine: `make demo` and `make test`.
# Each Python version gets its own virtual environment (.venv for the default python3,
# .venv-3.X for the others found on PATH or under pyenv).
PYTHON ?= python3
VENV := .venv
DEFAULT_VERSION := $(shell $(PYTHON) -c 'import sys; print("%d.%d" % sys.version_info[:2])')
# Other supported interpreters present on this machine (python3.X on PATH, else pyenv's).
find_python = $(shell bash .ci/find-python $(1))
OTHER_PYTHONS := $(foreach v,$(filter-out $(DEFAULT_VERSION),3.11 3.12 3.13),$(v)=$(call find_python,$(v)))

.PHONY: demo test test-one bench install clean

$(VENV)/.installed: pyproject.toml setup.py
	test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install -q --upgrade pip
	$(VENV)/bin/python -m pip install -q -e ".[test,jax]"
	touch $@

install: $(VENV)/.installed

demo: install
	$(VENV)/bin/python examples/demo.py

# Runs the whole suite on the default python3, then on every other supported version found.
# The property tests draw 400 random programs on the default Python and 100 on each other one
# (the engine's version-specific code runs in every test; the random programs mostly exercise the
# symbolic rules, which do not depend on the Python version).
export SKAUTODIFF_PROPERTY_EXAMPLES ?= 400
OTHER_PROPERTY_EXAMPLES ?= 100
test: install
	bash .ci/pytest-in $(VENV)
	@for pair in $(OTHER_PYTHONS); do \
	  v=$${pair%%=*}; py=$${pair#*=}; venv=.venv-$$v; \
	  if [ -z "$$py" ]; then echo "== Python $$v not found: skipped"; continue; fi; \
	  if [ ! -f $$venv/.installed ] || [ pyproject.toml -nt $$venv/.installed ]; then \
	    (test -x $$venv/bin/python || $$py -m venv $$venv) && \
	    $$venv/bin/python -m pip install -q --upgrade pip && \
	    $$venv/bin/python -m pip install -q -e ".[test,jax]" && touch $$venv/.installed || exit 1; \
	  fi; \
	  SKAUTODIFF_PROPERTY_EXAMPLES=$(OTHER_PROPERTY_EXAMPLES) SKAUTODIFF_JAX_CORPUS=sample \
	    bash .ci/pytest-in $$venv || exit 1; \
	done

bench: install
	$(VENV)/bin/python -m pip install -q -e ".[bench]"
	$(VENV)/bin/python -m benchmarks.run

clean:
	rm -rf $(VENV) .venv-3.* *.egg-info
