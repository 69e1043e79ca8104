# The two commands of the README: `make demo` (main job) and `make test` (test suite).
# Both create the virtual environment on first use; nothing else needs installing by hand.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.afflib-installed

.PHONY: venv demo test test-fast clean-venv

$(STAMP): setup.py constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q -c constraints.txt -e ".[cpu,dev,onnx]"
	touch $(STAMP)

venv: $(STAMP)

FUSION ?= aff
demo: $(STAMP)
	$(PY) scripts/demo.py --fusion $(FUSION)

test: $(STAMP)
	$(PY) -m pytest -q tests

clean-venv:
	rm -rf $(VENV)
