# Two entry points for a newcomer: `make demo` and `make test`. Each installs what it needs.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: demo test lint install bench check-installs generate docs docs-serve browser

$(BIN)/baijiayun: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

install: $(BIN)/baijiayun

demo: install
	$(BIN)/baijiayun demo

lint: install
	$(BIN)/python scripts/unasync.py --check
	$(BIN)/python scripts/openapi.py --check
	$(BIN)/ruff check src tests benchmarks scripts
	$(BIN)/ruff format --check src tests benchmarks scripts
	$(BIN)/mypy --strict src

# The sync client and PlayBack are generated from their async sources; the OpenAPI document
# (docs/openapi.json and the package's copy) from _endpoints.py, the models and the admin routes.
generate: install
	$(BIN)/python scripts/unasync.py
	$(BIN)/python scripts/openapi.py

# Two workers (the machine's two cores); a test file stays on one worker, so its shared servers
# are started once (tests/conftest.py groups them). A worker that crashes fails the run at once
# (xdist's replacement worker never gets the crashed one's group: the run would hang).
# The browser tests drive Debian's Chromium (Playwright never downloads a browser of its own);
# installed with apt when missing and apt is there (without it they skip locally, fail under CI=true).
browser:
	@command -v chromium >/dev/null 2>&1 || ! command -v apt-get >/dev/null 2>&1 || \
	  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; }

test: lint browser
	$(BIN)/pytest -n 2 --dist loadgroup --max-worker-restart=0

# The documentation site (docs/, mkdocs.yml) into site/; any warning fails the build.
# NO_MKDOCS_2_WARNING silences Material's banner about its successor (a notice, not a warning).
docs: install
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict

docs-serve: install
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs serve --strict

# Fresh venvs with `pip install .` and `.[cli]`: the plugin and the CLI behave without the extras.
check-installs:
	PYTHON=$(PYTHON) .ci/check-installs

# Speed, memory and hardness figures, each printed side by side with its floor (minutes, not seconds).
bench: install
	$(BIN)/python benchmarks/sdk_overhead.py
	$(BIN)/python benchmarks/cli_startup.py
	$(BIN)/python benchmarks/hostile_server.py
	$(BIN)/python benchmarks/emulator_throughput.py
	$(BIN)/python benchmarks/fuzz_report.py
	$(BIN)/python benchmarks/bulk_under_limit.py
	$(BIN)/python benchmarks/mirror.py
	$(BIN)/python benchmarks/property_large.py
	$(BIN)/python benchmarks/schemathesis_report.py
	$(BIN)/python benchmarks/console.py
