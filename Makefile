# Red Queen: `make run` serves the demo, `make test` runs the whole suite.
# Both create .venv with the Python that .python-version names.

PYTHON_VERSION := $(shell cat .python-version)
PYTHON ?= $(shell command -v python$(PYTHON_VERSION) 2>/dev/null || pyenv which python$(PYTHON_VERSION) 2>/dev/null)
VENV := .venv
PY := $(VENV)/bin/python
PORT ?= 8000
DEMO_ENV := DJANGO_DEBUG=1

.PHONY: run test lint fmt check clean bench bench-parts bench-surge bench-live bench-peer faults backup-drill scale-out

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
	@$(DEMO_ENV) $(PY) manage.py seed_demo --url http://127.0.0.1:$(PORT)/
# The logins and the address are the last lines before the server's own: the checks
# ran with migrate, and runserver's production warning is for servers, not this demo.
	@$(DEMO_ENV) DJANGO_RUNSERVER_HIDE_WARNING=true $(PY) manage.py runserver --skip-checks 127.0.0.1:$(PORT)

# pytest exits 5 when it collected no test; make fails on that like on any failure.
test: $(VENV)/.dev-installed
	$(PY) -m pytest

lint: $(VENV)/.dev-installed
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports

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

# The load benchmark: gunicorn on PostgreSQL (DEBUG off) driven by wrk, endpoint by
# endpoint and as a mix, with two references; prints the table. See bench/load.py.
BENCH_DB ?= postgres://postgres@127.0.0.1:5432/redqueen_load
BENCH_REDIS ?= redis://127.0.0.1:6379/8
bench: $(VENV)/.run-installed
	@command -v wrk >/dev/null || apt-get install -y wrk >/dev/null || sudo apt-get install -y wrk >/dev/null || \
		{ echo "bench needs wrk: install Debian's package wrk"; exit 1; }
	DATABASE_URL=$${DATABASE_URL-$(BENCH_DB)} REDIS_URL=$${REDIS_URL-$(BENCH_REDIS)} \
		$(PY) bench/load.py

# The two surges of `make bench` alone, on a fresh LOAD course: 500 students autosave a
# quiz and submit within BENCH_SURGE_SECONDS (default 120), then 300 phones follow a live
# class through two polls; fails on an error or a lost write. See bench/surge.py.
bench-surge: $(VENV)/.run-installed
	DATABASE_URL=$${DATABASE_URL-$(BENCH_DB)} REDIS_URL=$${REDIS_URL-$(BENCH_REDIS)} \
		$(PY) bench/surge.py

# A student page's cost in its two parts, each alone: the app's CPU through Django's
# stack in one process, and PostgreSQL's CPU for the page's reads replayed; against the
# 50-row reference page. On the LOAD course built afresh, as `make bench` builds it.
# See bench/parts.py.
bench-parts: $(VENV)/.run-installed
	DATABASE_URL=$${DATABASE_URL-$(BENCH_DB)} REDIS_URL=$${REDIS_URL-$(BENCH_REDIS)} \
		$(PY) bench/parts.py

# Peer review assigned to a cohort of 500 who all handed in, each paired with a classmate,
# on PostgreSQL: prints students, reviews each, rows, queries and seconds; fails over 2 s.
# See bench/peer_assign.py.
BENCH_PEER_DB ?= postgres://postgres@127.0.0.1:5432/rq_peer_bench
bench-peer: $(VENV)/.run-installed
	DATABASE_URL=$${DATABASE_URL-$(BENCH_PEER_DB)} $(PY) bench/peer_assign.py

# Fault drill: under a write load of the 24 demo students through gunicorn, restarts the
# PostgreSQL cluster serving DATABASE_URL's port (pg_lsclusters; needs root or its owner)
# and kills a gunicorn worker; then holds slow clients against gunicorn and against nginx
# running deploy/nginx.conf in front of it (Debian's package nginx; the target installs
# it). Prints a table per phase and fails on a lost write, a 500, no recovery or a slow
# /healthz through nginx. See bench/faults.py and docs/operations.md.
FAULTS_DB ?= postgres://postgres@127.0.0.1:5432/redqueen_faults
FAULTS_REDIS ?= redis://127.0.0.1:6379/9
faults: $(VENV)/.run-installed
	@command -v pg_ctlcluster >/dev/null || { echo "faults needs pg_ctlcluster (apt-get install postgresql-common)"; exit 1; }
	@PATH="$$PATH:/usr/sbin" command -v nginx >/dev/null || apt-get install -y nginx >/dev/null || sudo apt-get install -y nginx >/dev/null || \
		{ echo "faults needs nginx for its slow-client phase: install Debian's package nginx"; exit 1; }
	DATABASE_URL=$${DATABASE_URL-$(FAULTS_DB)} REDIS_URL=$${REDIS_URL-$(FAULTS_REDIS)} \
		$(PY) bench/faults.py

# Backup drill: under the same write load, pg_dump -Fc at an exported snapshot, pg_restore
# into a new database, compare row counts and checksums with the snapshot, migrate
# --check and open pages on the copy; fails on any mismatch. KEEP=1 keeps the copy.
# See bench/backup_drill.py and docs/operations.md.
backup-drill: $(VENV)/.run-installed
	@command -v pg_dump >/dev/null && command -v pg_restore >/dev/null || { echo "backup-drill needs pg_dump and pg_restore (apt-get install postgresql-client)"; exit 1; }
	DATABASE_URL=$${DATABASE_URL-$(FAULTS_DB)} REDIS_URL=$${REDIS_URL-$(FAULTS_REDIS)} \
		$(PY) bench/backup_drill.py $(if $(KEEP),--keep)

# Two gunicorn instances share PostgreSQL and Redis; users alternate between them (sign-in,
# quiz autosave, a live poll, LTI launches from a test LMS), then a short load on one and
# on both; prints a table and fails if any state stayed in one process. See
# bench/scale_out.py and docs/scaling.md.
SCALE_DB ?= postgres://postgres@127.0.0.1:5432/redqueen_scale
SCALE_REDIS ?= redis://127.0.0.1:6379/10
scale-out: $(VENV)/.dev-installed
	@test "$${SCALE_PGBOUNCER-1}" = 0 || command -v pgbouncer >/dev/null || test -x /usr/sbin/pgbouncer || \
		apt-get install -y pgbouncer >/dev/null || sudo apt-get install -y pgbouncer >/dev/null || \
		{ echo "scale-out needs PgBouncer: install Debian's package pgbouncer (or SCALE_PGBOUNCER=0)"; exit 1; }
	DATABASE_URL=$${DATABASE_URL-$(SCALE_DB)} REDIS_URL=$${REDIS_URL-$(SCALE_REDIS)} \
		$(PY) bench/scale_out.py
