"""No Docker engine runs here: these tests read the deployment files against the settings."""

import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
SETTINGS_SOURCE = (ROOT / "config" / "settings.py").read_text()
# Every variable the settings read goes through one of these helpers (or os.environ.get).
SETTINGS_VARIABLES = set(
    re.findall(r'(?:env_str|env_bool|env_int|os\.environ\.get)\(\s*"([A-Z_]+)"', SETTINGS_SOURCE)
)


def compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def documented_variables() -> set[str]:
    names = set()
    for line in (ROOT / ".env.example").read_text().splitlines():
        match = re.match(r"^([A-Z_]+)=", line)
        if match:
            names.add(match.group(1))
    return names


def test_settings_read_the_contract_variables():
    """The variables in docs/architecture.md's contracts are the ones the settings read."""
    contract = {
        "DATABASE_URL",
        "GOOGLE_SHEETS_XLSX_URL",
        "SPOTIFY_CLIENT_ID",
        "SPOTIFY_CLIENT_SECRET",
        "SPOTIFY_API_BASE_URL",
        "SPOTIFY_TOKEN_URL",
        "SYNC_STALE_AFTER_SECONDS",
        "DJANGO_SECRET_KEY",
        "DJANGO_DEBUG",
        "DJANGO_ALLOWED_HOSTS",
    }
    assert contract <= SETTINGS_VARIABLES


def test_env_example_documents_every_setting_variable():
    """`.env.example` lists every variable the settings read (except the tests' own switch)."""
    undocumented = SETTINGS_VARIABLES - documented_variables() - {"DJANGO_ENV_FILE"}
    assert undocumented == set()


def test_compose_runs_web_and_postgres_with_a_volume_and_healthcheck():
    """The web service waits for a healthy PostgreSQL whose data lives in a named volume."""
    services = compose()["services"]
    assert set(services) == {"web", "worker", "db"}
    db = services["db"]
    assert db["image"].startswith("postgres:")
    assert "pg_isready" in " ".join(db["healthcheck"]["test"])
    volume_name = db["volumes"][0].split(":")[0]
    assert volume_name in compose()["volumes"]
    assert services["web"]["depends_on"]["db"]["condition"] == "service_healthy"


def test_compose_web_environment_matches_settings():
    """Every variable compose passes to the web service is one the settings read."""
    web = compose()["services"]["web"]
    assert set(web["environment"]) <= SETTINGS_VARIABLES
    assert web["env_file"][0]["path"] == ".env"


def test_compose_worker_runs_db_worker_on_the_web_image_and_settings():
    """The worker service is the web service's image and environment running `db_worker`, once
    the migrations are applied; web queues its syncs for it (SYNC_RUNNER=tasks)."""
    services = compose()["services"]
    web, worker = services["web"], services["worker"]
    assert worker["build"] == web["build"]
    assert worker["env_file"] == web["env_file"]
    assert worker["environment"] == web["environment"]
    assert web["environment"]["SYNC_RUNNER"] == "tasks"
    command = " ".join(worker["command"])
    assert "manage.py migrate --check" in command
    assert "exec python manage.py db_worker" in command
    assert worker["depends_on"]["db"]["condition"] == "service_healthy"
    assert worker["restart"] == "unless-stopped"


def test_compose_database_url_points_at_the_db_service():
    """DATABASE_URL uses the db service's user, database and host."""
    services = compose()["services"]
    url = services["web"]["environment"]["DATABASE_URL"]
    db_env = services["db"]["environment"]
    assert url.startswith(f"postgres://{db_env['POSTGRES_USER']}:")
    assert url.endswith(f"@db:5432/{db_env['POSTGRES_DB']}")


def test_dockerfile_runs_gunicorn_as_non_root_after_migrating():
    """The image serves with gunicorn as an unprivileged user and migrates on start."""
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert re.search(r"^USER app$", dockerfile, re.MULTILINE)
    cmd = next(line for line in dockerfile.splitlines() if line.startswith("CMD"))
    assert "migrate --noinput" in cmd
    assert "gunicorn config.wsgi" in cmd
    assert "collectstatic --noinput" in dockerfile
    assert "whitenoise.middleware.WhiteNoiseMiddleware" in SETTINGS_SOURCE


def test_compose_requires_a_postgres_password():
    """No default database password: compose stops with a message when .env lacks one."""
    services = compose()["services"]
    assert services["db"]["environment"]["POSTGRES_PASSWORD"] == (
        "${POSTGRES_PASSWORD:?set POSTGRES_PASSWORD in .env}"
    )
    assert "${POSTGRES_PASSWORD:?" in services["web"]["environment"]["DATABASE_URL"]
    assert "POSTGRES_PASSWORD" in (ROOT / ".env.example").read_text()
    assert "POSTGRES_PASSWORD" in (ROOT / "README.md").read_text()
