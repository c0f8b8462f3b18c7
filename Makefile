# Two commands do all the set-up: `make demo` and `make test`.
# Both create .venv and install what they need.

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-dev

.PHONY: venv test lint demo bench clean stress fuzz capture-tools netns-tools

$(STAMP): setup.cfg pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

venv: $(STAMP)

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

# The confidentiality test captures loopback traffic with tcpdump. Install it
# from Debian's package only when it is missing and we are root (as in CI);
# otherwise that test skips and says why.
capture-tools:
	@if ! command -v tcpdump >/dev/null 2>&1 && [ "$$(id -u)" = 0 ] \
		&& command -v apt-get >/dev/null 2>&1; then \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
			apt-get install -y -qq --no-install-recommends tcpdump >/dev/null; \
	fi

# The multi-host tests simulate hosts with network namespaces (`ip netns`).
# Install iproute2 only when `ip` is missing and we are root (as in CI);
# otherwise those tests skip and say why.
netns-tools:
	@if ! command -v ip >/dev/null 2>&1 && [ "$$(id -u)" = 0 ] \
		&& command -v apt-get >/dev/null 2>&1; then \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
			apt-get install -y -qq --no-install-recommends iproute2 >/dev/null; \
	fi

test: lint capture-tools netns-tools
	$(BIN)/pytest -q

# Every reliability figure at full size: a table, and results/stress.json.
stress: venv
	$(BIN)/python -m stress.run --out results/stress.json

# The listener's receive path under atheris for FUZZ_TIME seconds.
FUZZ_TIME ?= 60
fuzz: venv
	$(BIN)/python -c "import atheris" 2>/dev/null || $(BIN)/python -m pip install --quiet atheris
	$(BIN)/python fuzz/fuzz_listener.py -max_total_time=$(FUZZ_TIME) -print_final_stats=1

# The quick benchmark suite, zcomet beside raw pyzmq (under 3 minutes on 2
# idle cores): a table, results/bench.json and PNG plots. More: BENCH_ARGS, or
# `python -m benchmarks --help`.
BENCH_ARGS ?= --quick
bench: venv
	$(BIN)/python -m benchmarks $(BENCH_ARGS)

demo: venv
	$(BIN)/python -m zcomet demo

clean:
	rm -rf $(VENV) build dist *.egg-info .pytest_cache .mypy_cache .ruff_cache
