# Red Queen: `make run` serves the demo, `make test` runs the whole suite.
# Both create .venv with the Python that .python-version names.

PYTHON_VERSION := $(shell cat .python-version)
PYTHON ?= $(shell command -v python$(PYTHON_VERSION) 2>/dev/null || pyenv which python$(PYTHON_VERSION) 2>/dev/null)
VENV := .venv
PY := $(VENV)/bin/python
PORT ?= 8000
DEMO_ENV := DJANGO_DEBUG=1

.PHONY: run test lint fmt check clean bench-live scale-out

$(PY):
	@test -n "$(PYTHON)" || { echo "Python $(PYTHON_VERSION) not found: install it (see README)."; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

$(VENV)/.run-installed: requirements.txt | $(PY)
	$(PY) -m pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.dev-installed: requirements.txt requirements-dev.txt | $(PY)
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $@ $(VENV)/.run-installed

run: $(VENV)/.run-installed
	$(DEMO_ENV) $(PY) manage.py migrate --noinput
	$(DEMO_ENV) $(PY) manage.py seed_demo
	@echo "Serving on http://127.0.0.1:$(PORT)/ (Ctrl-C to stop)"
	$(DEMO_ENV) $(PY) manage.py runserver 127.0.0.1:$(PORT)

# pytest exits 5 when it collected no test; make fails on that like on any failure.
test: $(VENV)/.dev-installed
	$(PY) -m pytest

lint: $(VENV)/.dev-installed
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

fmt: $(VENV)/.dev-installed
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

clean:
	rm -rf $(VENV) staticfiles db.sqlite3

# 200 students answer a live poll through gunicorn on PostgreSQL and Redis (both running
# locally); prints a table and fails if an answer is lost. See bench/live.py.
BENCH_LIVE_DB ?= postgres://postgres@127.0.0.1:5432/redqueen_bench_live
BENCH_LIVE_REDIS ?= redis://127.0.0.1:6379/7
bench-live: $(VENV)/.run-installed
	DATABASE_URL=$${DATABASE_URL-$(BENCH_LIVE_DB)} REDIS_URL=$${REDIS_URL-$(BENCH_LIVE_REDIS)} \
		$(PY) bench/live.py

# Two gunicorn instances share PostgreSQL and Redis; users alternate between them (sign-in,
# quiz autosave, a live poll), then a short load on one and on both; prints a table and
# fails if any state stayed in one process. See bench/scale_out.py and docs/scaling.md.
SCALE_DB ?= postgres://postgres@127.0.0.1:5432/redqueen_scale
SCALE_REDIS ?= redis://127.0.0.1:6379/10
scale-out: $(VENV)/.run-installed
	DATABASE_URL=$${DATABASE_URL-$(SCALE_DB)} REDIS_URL=$${REDIS_URL-$(SCALE_REDIS)} \
		$(PY) bench/scale_out.py
