# syndicate — the two commands a newcomer runs: `make run` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
# `make run PORT=8080 HOST=0.0.0.0`; links use that port unless BASE_URL says otherwise.
PORT   ?= 8000
HOST   ?= 127.0.0.1

# Debian packages the tests drive as real peers: smtp-sink (postfix), nginx, SpamAssassin, Chromium.
SYSDEPS := postfix nginx spamassassin chromium chromium-driver openssl

.PHONY: run test lint typecheck unit bench clean install sysdeps catalogs

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

sysdeps:
	@missing=$$(for p in $(SYSDEPS); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "installing $$missing"; apt-get update -qq && \
	    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	  else echo "warning: missing Debian packages: $$missing (install them to run every test)"; fi; \
	fi

## Embedded mode: SQLite, file broker, worker + scheduler, mail into var/outbox/.
run: $(STAMP)
	$(BIN)/syndicate db upgrade
	$(BIN)/syndicate articles import examples/*.txt examples/*.md examples/*.json
	exec $(BIN)/syndicate serve --host $(HOST) --port $(PORT)

## Compile the gettext catalogs (syndicate/locales/*/LC_MESSAGES/messages.po -> .mo, shipped in the wheel).
catalogs: $(STAMP)
	$(BIN)/pybabel compile --use-fuzzy -d syndicate/locales -D messages --statistics

lint: $(STAMP)
	$(BIN)/ruff check syndicate worker tests bench

typecheck: $(STAMP)
	$(BIN)/mypy

test: sysdeps lint typecheck
	$(BIN)/pytest -q -p no:cacheprovider $(PYTEST_ARGS)

bench: $(STAMP)
	@for b in bench/*.py; do echo "== $$b"; $(BIN)/python $$b || exit 1; done

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
