# The two commands of the README: `make demo` (main job) and `make test` (test suite).
# Both create the virtual environment on first use; nothing else needs installing by hand.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.afflib-installed
# The PyTorch engine lives in its own environment (gluoncv refuses to import beside torch>=2).
TORCH_VENV ?= .venv-torch
TORCH_PY := $(TORCH_VENV)/bin/python
TORCH_STAMP := $(TORCH_VENV)/.afflib-torch-installed

.PHONY: venv demo test test-fast clean-venv venv-torch test-torch

# The checkout installed editable in each environment: afflib (and its console scripts) import from here.
$(STAMP): setup.py constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q -c constraints.txt -e ".[cpu,dev,onnx]"
	touch $(STAMP)

venv: $(STAMP)

FUSION ?= aff
# ENGINE=torch: the same demo on the PyTorch engine, in its own environment.
ENGINE ?= mxnet
ifeq ($(ENGINE),torch)
demo: $(TORCH_STAMP)
	$(TORCH_PY) scripts/demo.py --engine torch --fusion $(FUSION)
else
demo: $(STAMP)
	$(PY) scripts/demo.py --engine $(ENGINE) --fusion $(FUSION)
endif

# Both suites: MXNet (tests/) and the PyTorch engine in its own environment (tests_torch/); the framework-free
# core's tests (tests_core/) run in both.
test: $(STAMP) $(TORCH_STAMP)
	$(PY) -m pytest -q tests tests_core
	$(TORCH_PY) -m pytest -q tests_torch tests_core


# Both suites without the tests marked slow (minutes of training); `make test` runs everything.
test-fast: $(STAMP) $(TORCH_STAMP)
	$(PY) -m pytest -q -m "not slow" tests tests_core
	$(TORCH_PY) -m pytest -q -m "not slow" tests_torch tests_core

# requirements-torch.txt pins the CPU torch build and the test tools; the [torch] extra adds what afflib_torch
# imports. One pip call, so the pins decide the versions.
$(TORCH_STAMP): setup.py requirements-torch.txt
	$(PYTHON) -m venv $(TORCH_VENV)
	$(TORCH_PY) -m pip install -q -r requirements-torch.txt -e ".[torch]"
	touch $(TORCH_STAMP)

venv-torch: $(TORCH_STAMP)

test-torch: $(TORCH_STAMP)
	$(TORCH_PY) -m pytest -q tests_torch tests_core

clean-venv:
	rm -rf $(VENV) $(TORCH_VENV)
