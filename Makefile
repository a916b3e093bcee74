# The two commands a newcomer needs: `make run` (the app on SQLite) and `make test` (everything).
UV ?= $(shell command -v uv 2>/dev/null || echo "python3 -m uv")
export UV_PYTHON_DOWNLOADS ?= never
PYTHON_VERSION ?= python3.11
RUN := $(UV) run --frozen --python $(PYTHON_VERSION)

.PHONY: run test lint typecheck check-migrations test-sqlite test-postgres ci install system-deps bench

install:
	@command -v uv >/dev/null 2>&1 || python3 -m uv --version >/dev/null 2>&1 || python3 -m pip install --quiet uv
	$(UV) sync --frozen --python $(PYTHON_VERSION)

.env:
	$(RUN) python scripts/make_env.py

run: install .env
	$(RUN) python manage.py migrate --noinput
	$(RUN) python manage.py ensure_admin
	$(RUN) python manage.py runserver 127.0.0.1:8000

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
