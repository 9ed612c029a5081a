# Every target installs what it needs on first use: `make run` and `make test` are the
# only two commands a fresh machine needs.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: run wheel example test lint typecheck contracts pytest fuzz web web-test api-types bench bench-api bench-startup bench-fanout bench-collab bench-queue bench-code bwrap docs clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

# The editor (frontend/, React + Vite) is built into src/tav/web, where `tav serve` serves
# it; it is rebuilt when its sources change, and `npm ci` runs when the lock file does.
WEB       := frontend
WEB_DEPS  := $(WEB)/node_modules/.installed
WEB_STAMP := src/tav/web/.built
WEB_SRCS  := $(shell find $(WEB)/src -type f 2>/dev/null) $(WEB)/index.html \
	$(WEB)/vite.config.ts $(WEB)/tsconfig.json $(WEB)/tsconfig.app.json $(WEB)/tsconfig.node.json

$(WEB_DEPS): $(WEB)/package.json $(WEB)/package-lock.json
	cd $(WEB) && npm ci --no-audit --no-fund --loglevel=error
	touch $@

$(WEB_STAMP): $(WEB_DEPS) $(WEB_SRCS)
	cd $(WEB) && npm run --silent build
	touch $@

web: $(WEB_STAMP)

web-test: $(WEB_DEPS)
	cd $(WEB) && npm test --silent

# The editor's API types: the app's OpenAPI document, kept in frontend/src/api/openapi.json
# (tests/api/test_openapi_snapshot.py fails when it is stale), and the TypeScript generated
# from it. Run it after changing a route or a schema. openapi-typescript needs TypeScript
# 5's JavaScript API, so it has a package of its own in frontend/tools.
WEB_TOOLS := $(WEB)/tools/node_modules/.installed

$(WEB_TOOLS): $(WEB)/tools/package.json $(WEB)/tools/package-lock.json
	cd $(WEB)/tools && npm ci --no-audit --no-fund --loglevel=error
	touch $@

api-types: $(STAMP) $(WEB_TOOLS)
	$(BIN)/python -m tav.api.openapi > $(WEB)/src/api/openapi.json.new
	mv $(WEB)/src/api/openapi.json.new $(WEB)/src/api/openapi.json
	cd $(WEB)/tools && npx --no-install openapi-typescript ../src/api/openapi.json \
		--default-non-nullable false --output ../src/api/schema.d.ts

# code.python runs code under bubblewrap (Debian's bubblewrap package), installed here
# where it is missing and apt-get may run (as root, or through sudo without a password).
# Without it the server runs all the same and code.python nodes refuse to, saying why.
bwrap:
	@command -v bwrap >/dev/null 2>&1 || { \
	  sudo=$$([ "$$(id -u 2>/dev/null)" = 0 ] || echo "sudo -n"); \
	  $$sudo apt-get update -qq && \
	  $$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq bubblewrap >/dev/null; \
	} 2>/dev/null || echo "make: bubblewrap is not installed and could not be: code.python nodes will refuse to run" >&2

# The server on 127.0.0.1:$(PORT), data in $TAV_DATA_DIR (default ./.tav). Without npm
# (Node.js) it starts all the same, without building the editor: `tav serve` then shows
# the one it has, or a page that says how to build it.
PORT ?= 8000
NPM  := $(shell command -v npm 2>/dev/null)

run: $(STAMP) bwrap $(if $(NPM),$(WEB_STAMP))
	@$(if $(NPM),true,echo "make run: npm not found: starting the server without building the editor (it needs Node.js 20.19 or newer)" >&2)
	$(BIN)/tav serve --port $(PORT)

# A wheel with the built editor and the docs inside, in dist/: `pipx install` of it gives
# a working server and editor with no Node.js (docs/deployment/install.md).
wheel: $(STAMP) $(WEB_STAMP)
	$(BIN)/python -m build --wheel --no-isolation --outdir dist

example: $(STAMP)
	$(BIN)/tav run examples/hello.json --input '{"name": "world"}'

test: lint typecheck contracts web-test pytest

lint: $(STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench

typecheck: $(STAMP)
	$(BIN)/mypy

contracts: $(STAMP)
	$(BIN)/lint-imports

# Three test processes (pytest-xdist), a file's tests in one of them: most tests wait on
# servers, brokers and browsers rather than compute, so three share two cores well. Every
# test has its own ports, data dir and databases.
PYTEST_PROCESSES ?= 3

pytest: $(STAMP) $(WEB_STAMP) bwrap  # tests/e2e drive the built editor
	$(BIN)/pytest -q -n $(PYTEST_PROCESSES) --dist loadfile

# The fuzzing properties of tests/security/test_fuzz.py with many random examples (`make
# test` runs a short derandomized pass); failures found are replayed first next time.
FUZZ_EXAMPLES ?= 2000
fuzz: $(STAMP)
	TAV_FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) $(BIN)/pytest -q -p no:cacheprovider tests/security/test_fuzz.py

bench: $(STAMP)
	$(BIN)/python bench/engine.py

bench-api: $(STAMP)
	$(BIN)/python bench/api.py

bench-startup: $(STAMP)
	$(BIN)/python bench/startup.py

bench-fanout: $(STAMP)
	$(BIN)/python bench/fanout.py

bench-collab: $(STAMP)
	$(BIN)/python bench/collab.py

# Queue mode: tav serve and 1, 2, 4 tav worker over PostgreSQL and Redis (bench/README.md).
bench-queue: $(STAMP)
	$(BIN)/python bench/queue_mode.py

# The code.python node under the sandbox (bench/README.md).
bench-code: $(STAMP) bwrap
	$(BIN)/python bench/code.py

docs: $(STAMP)
	$(BIN)/tav nodes docs > docs/reference/built-in-nodes.md

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache
