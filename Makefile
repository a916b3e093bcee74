# The two commands a newcomer needs: `make run` (the app on SQLite) and `make test` (everything).
ifndef UV
UV := $(shell bash scripts/ensure-uv.sh)
endif
ifeq ($(UV),)
$(error uv is not available and could not be installed: see the messages above)
endif
# Use a Python 3.11+ already on the machine; never download one.
export UV_PYTHON_DOWNLOADS ?= never
export UV_PYTHON ?= >=3.11
# Trust the system certificate store when there is one (corporate proxies add their roots there);
# without it uv keeps its bundled roots.
ifneq ($(wildcard /etc/ssl/certs/ca-certificates.crt),)
export UV_SYSTEM_CERTS ?= 1
endif
RUN := $(UV) run --frozen
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run worker test lint typecheck check-migrations test-sqlite test-postgres ci install system-deps bench

install:
	$(UV) sync --frozen

.env:
	$(RUN) python scripts/make_env.py

run: install .env
	$(RUN) python manage.py migrate --noinput
	$(RUN) python manage.py ensure_admin
	$(RUN) python manage.py runserver $(HOST):$(PORT)

# The task worker for SYNC_RUNNER=tasks (run it next to `make run` in another terminal).
worker: install .env
	$(RUN) python manage.py migrate --noinput
	$(RUN) python manage.py db_worker

lint: install
	$(RUN) ruff check .
	$(RUN) ruff format --check .

typecheck: install
	$(RUN) pyright

check-migrations: install
	DJANGO_SETTINGS_MODULE=tests.settings $(RUN) python manage.py makemigrations --check --dry-run

system-deps:
	bash scripts/system-deps.sh

test-sqlite: install system-deps
	DATABASE_URL= $(RUN) pytest

test-postgres: install system-deps
	bash scripts/with-postgres.sh $(RUN) pytest

test: lint typecheck check-migrations test-sqlite test-postgres

ci: test

# The benchmarks behind the figures in the README (a few minutes; the real 2025 export is read
# from ../shared/data when present). They print medians and ratios; they assert nothing.
bench: install
	$(RUN) python -m bench.workbook
	$(RUN) python -m bench.importer all
	$(RUN) python -m bench.album_list
	$(RUN) python -m bench.sync
	@# The load benchmark needs wrk (Debian: apt-get install wrk).
	@if command -v wrk >/dev/null; then $(RUN) python -m bench.load; \
	else echo "bench.load skipped: wrk is not installed (apt-get install wrk)"; fi
	@if command -v nginx >/dev/null || [ -x /usr/sbin/nginx ]; then $(RUN) python -m bench.slowloris; \
	else echo "bench.slowloris skipped: nginx is not installed (apt-get install nginx)"; fi
