# Production image: gunicorn serves the app, whitenoise the static files, migrations run on start.
FROM python:3.11-slim-bookworm AS build

ENV UV_COMPILE_BYTECODE=1 UV_LINK_MODE=copy UV_PYTHON_DOWNLOADS=never
RUN pip install --no-cache-dir uv
WORKDIR /app
COPY pyproject.toml uv.lock ./
RUN uv sync --frozen --no-dev --no-install-project --python /usr/local/bin/python3.11

FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PATH="/app/.venv/bin:$PATH" \
    DJANGO_SETTINGS_MODULE=config.settings \
    PORT=8000

RUN groupadd --system app && useradd --system --gid app --home-dir /app --no-create-home app
WORKDIR /app
COPY --from=build /app/.venv /app/.venv
COPY --chown=app:app . /app

# collectstatic only needs a throwaway key: the real one comes from the environment at run time.
RUN DJANGO_SECRET_KEY=build-only-not-secret python manage.py collectstatic --noinput

USER app
EXPOSE 8000
# The sync runner is a thread in whichever web process took the trigger (docs/architecture.md, "The runner");
# the database lock keeps every other worker process or machine from starting a second sync.
# Workers, threads, keep-alive and timeouts: config/gunicorn.py (environment overrides listed there).
CMD ["sh", "-c", "python manage.py migrate --noinput && exec gunicorn -c config/gunicorn.py config.wsgi"]
