# Two commands for a fresh machine: `make run` and `make test` (see README.md).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
HOST   ?= 127.0.0.1
PORT   ?= 8080

.PHONY: run test install install-dev lint typecheck clean help bench bench-quick fuzz i18n browser node-packages haproxy

help:  ## list the targets
	@grep -E '^[a-z-]+:.*##' $(MAKEFILE_LIST) | sed 's/:.*## /\t/'

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.installed: $(BIN)/python pyproject.toml
	$(BIN)/pip install --quiet -e '.[postgres,redis]'
	@touch $@

$(VENV)/.installed-dev: $(BIN)/python pyproject.toml
	$(BIN)/pip install --quiet -e '.[dev]'
	@touch $@ $(VENV)/.installed

install: $(VENV)/.installed  ## create .venv and install tenure

install-dev: $(VENV)/.installed-dev  ## install tenure with test and lint tools

$(VENV)/.installed-bench: $(VENV)/.installed-dev pyproject.toml
	$(BIN)/pip install --quiet -e '.[dev,bench]'
	@touch $@

run: install  ## prepare ./var (database, server keys) and start the server on $(HOST):$(PORT)
	$(BIN)/tenure init
	$(BIN)/tenure serve --host $(HOST) --port $(PORT)

# The browser tests (tests/e2e/test_browser_*.py) drive Debian's chromium with Playwright
# and check pages with axe-core from npm. Both are fetched once when they can be (root or
# sudo for apt-get; npm, with node >= 20, for the packages); when they cannot, the make
# goes on and those tests skip, saying why. Already installed, both steps are file tests.
CHROMIUM ?= /usr/bin/chromium
NODE_DIR := tests/e2e/node
# apt-get runs as root, or through sudo when sudo needs no password, or not at all
APT_AS = $(shell if [ "$$(id -u)" = 0 ]; then echo root; \
	elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then echo sudo; fi)
APT_GET = $(if $(filter sudo,$(APT_AS)),sudo -n )env DEBIAN_FRONTEND=noninteractive \
	apt-get -qq -o=Dpkg::Use-Pty=0

browser:  ## install chromium and fonts for the browser tests (apt-get as root or with sudo)
	@if [ -x $(CHROMIUM) ]; then :; \
	elif [ -z "$(APT_AS)" ] || ! command -v apt-get >/dev/null; then \
	  echo "browser tests will skip: no $(CHROMIUM) (install it: sudo apt-get install chromium chromium-driver)"; \
	else \
	  echo "installing chromium for the browser tests (apt-get)"; \
	  { $(APT_GET) update && $(APT_GET) install -y --no-install-recommends \
	      chromium chromium-driver fonts-dejavu-core fonts-liberation >/dev/null; } \
	  || echo "browser tests will skip: apt-get could not install chromium"; \
	fi

node-packages: $(NODE_DIR)/node_modules/.package-lock.json  ## npm packages of the tests (axe-core, jose)

# npm ci writes node_modules/.package-lock.json: it is newer than the lock once installed
$(NODE_DIR)/node_modules/.package-lock.json: $(NODE_DIR)/package-lock.json
	@if ! command -v npm >/dev/null; then \
	  echo "axe-core and jose tests will skip: no npm (install node and npm, then: npm ci --prefix $(NODE_DIR))"; \
	elif npm ci --prefix $(NODE_DIR) --no-audit --no-fund --loglevel=error >/dev/null; then \
	  touch $@; \
	else \
	  echo "axe-core and jose tests will skip: npm ci --prefix $(NODE_DIR) failed"; \
	fi

test: install-dev browser node-packages haproxy  ## run the whole test suite (PostgreSQL tests need TENURE_TEST_POSTGRES_URL)
	$(BIN)/python -m pytest -n 2 --dist loadgroup --durations=15 $(PYTEST_ARGS)

lint: install-dev  ## ruff and mypy
	$(BIN)/ruff check src tests
	$(BIN)/mypy src/tenure

bench: install-dev $(VENV)/.installed-bench  ## full benchmark, 1 M devices (PostgreSQL too with TENURE_BENCH_POSTGRES_URL); writes docs/benchmarks.md
	$(BIN)/python -m bench $(BENCH_ARGS)

bench-quick: install-dev $(VENV)/.installed-bench  ## ~2-minute smoke run of the benchmark (10 k devices); writes bench/out/
	$(BIN)/python -m bench --quick $(BENCH_ARGS)

# HAProxy is started by tests/e2e/test_scale_out.py and `python -m bench --replicas` as a
# child process with a generated config on 127.0.0.1; it is never run as a system service
# (if installing it started one, it is stopped and disabled again).
HAPROXY ?= /usr/sbin/haproxy
SUDO = $(if $(filter sudo,$(APT_AS)),sudo -n )
haproxy:  ## install HAProxy from Debian when it is missing (apt-get as root or with sudo), for the scale-out test and bench
	@if [ -x $(HAPROXY) ] || command -v haproxy >/dev/null; then :; \
	elif [ -z "$(APT_AS)" ] || ! command -v apt-get >/dev/null; then \
	  echo "the scale-out test will skip: no haproxy (install it: sudo apt-get install haproxy)"; \
	else \
	  echo "installing haproxy for the scale-out test and bench (apt-get)"; \
	  was_active=$$(systemctl is-active haproxy 2>/dev/null || true); \
	  { $(APT_GET) install -y --no-install-recommends haproxy >/dev/null \
	    || { $(APT_GET) update && $(APT_GET) install -y --no-install-recommends haproxy >/dev/null; }; } \
	  || echo "the scale-out test will skip: apt-get could not install haproxy"; \
	  if [ "$$was_active" != active ] && systemctl is-active --quiet haproxy 2>/dev/null; then \
	    $(SUDO)systemctl disable --now haproxy; \
	  fi; \
	fi

FUZZ_EXAMPLES ?= 200
fuzz: install-dev  ## schemathesis against real servers (SQLite; PostgreSQL with TENURE_TEST_POSTGRES_URL), FUZZ_EXAMPLES per operation (default 200)
	TENURE_FUZZ_RANDOM=1 TENURE_FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) TENURE_FUZZ_STATEFUL_EXAMPLES=$(FUZZ_EXAMPLES) \
	  $(BIN)/python -m pytest -p no:cacheprovider -rxX tests/fuzz $(PYTEST_ARGS)

CATALOGS := src/tenure/i18n/locales
i18n: install-dev  ## extract the text a person reads into the catalogs and update each language's .po
	$(BIN)/pybabel -q extract -F babel.cfg -k N_ -k gettext:2 -k plural:2,3 -k ngettext:1,2 -k _ \
	  --no-location --sort-output --omit-header -o $(CATALOGS)/tenure.pot src
	for lang in de fr es ru ar fa; do \
	  if [ -f $(CATALOGS)/$$lang/LC_MESSAGES/tenure.po ]; then \
	    $(BIN)/pybabel -q update --no-fuzzy-matching --ignore-obsolete --ignore-pot-creation-date -D tenure -i $(CATALOGS)/tenure.pot -d $(CATALOGS) -l $$lang; \
	  else \
	    $(BIN)/pybabel -q init -D tenure -i $(CATALOGS)/tenure.pot -d $(CATALOGS) -l $$lang; \
	  fi; \
	done

clean:  ## remove the virtual environment (keeps ./var)
	rm -rf $(VENV) build src/*.egg-info
