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
    assert set(services) == {"web", "worker", "db", "nginx"}
    db = services["db"]
    assert db["image"].startswith("postgres:")
    assert "pg_isready" in " ".join(db["healthcheck"]["test"])
    volume_name = db["volumes"][0].split(":")[0]
    assert volume_name in compose()["volumes"]
    assert services["web"]["depends_on"]["db"]["condition"] == "service_healthy"


def test_compose_publishes_nginx_and_not_gunicorn():
    """Only nginx is published, on the port web used to be; web is reachable by nginx alone."""
    services = compose()["services"]
    assert "ports" not in services["web"]
    assert services["web"]["expose"] == ["8000"]
    assert all("ports" not in services[name] for name in ("worker", "db"))
    assert services["nginx"]["ports"] == ["8000:8000"]


def test_compose_nginx_renders_the_repository_template_for_web():
    """The nginx service is the official image with deploy/nginx/ mounted where it renders
    templates, every variable of the template set, and web as the upstream."""
    nginx = compose()["services"]["nginx"]
    assert nginx["image"].startswith("nginx:")
    mounts = dict(volume.rsplit(":", 1)[0].split(":", 1) for volume in nginx["volumes"])
    assert mounts == {
        "./deploy/nginx/nginx.conf": "/etc/nginx/nginx.conf",
        "./deploy/nginx/templates": "/etc/nginx/templates",
    }
    assert all((ROOT / source).exists() for source in mounts)
    template = (ROOT / "deploy/nginx/templates/progmetal.conf.template").read_text()
    assert set(re.findall(r"\$\{([A-Z_]+)\}", template)) == set(nginx["environment"])
    assert (
        nginx["environment"]["PROGMETAL_UPSTREAM"]
        == f"web:{compose()['services']['web']['expose'][0]}"
    )
    # The image renders templates only when the command starts with `nginx`.
    assert nginx["command"][0] == "nginx"
    assert "daemon off;" in nginx["command"][-1]


def test_compose_restarts_every_long_running_service():
    """web, worker and nginx come back by themselves if they die (and after a reboot)."""
    services = compose()["services"]
    assert {
        name: services[name].get("restart") for name in ("web", "worker", "nginx")
    } == dict.fromkeys(("web", "worker", "nginx"), "unless-stopped")


def test_compose_web_environment_matches_settings():
    """Every variable compose passes to the web service is one the settings read."""
    web = compose()["services"]["web"]
    assert set(web["environment"]) <= SETTINGS_VARIABLES
    assert web["env_file"][0]["path"] == ".env"


def test_behind_compose_nginx_the_app_counts_clients_by_the_address_nginx_sets():
    """nginx overwrites X-Real-IP with the client's address, and web reads it (the admin
    login's throttle would otherwise count every client as nginx); SITE_URL is passed on."""
    environment = compose()["services"]["web"]["environment"]
    template = (ROOT / "deploy/nginx/templates/progmetal.conf.template").read_text()

    assert environment["DJANGO_CLIENT_IP_HEADER"] == "X-Real-IP"
    assert "proxy_set_header X-Real-IP $remote_addr;" in template
    assert "SITE_URL" in environment


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
    assert "gunicorn -c config/gunicorn.py config.wsgi" in cmd
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


def test_gunicorn_config_keeps_connections_alive_longer_than_the_poll_interval(monkeypatch):
    """gunicorn reads config/gunicorn.py as the image does: threaded workers, a keep-alive well
    above the panel's 2 s poll (the default 2 s races it and resets reused connections), and
    the environment's overrides."""
    from gunicorn.config import Config

    def load(**environ: str) -> Config:
        for name in ("PORT", "WEB_CONCURRENCY", "GUNICORN_KEEPALIVE"):
            monkeypatch.delenv(name, raising=False)
        for name, value in environ.items():
            monkeypatch.setenv(name, value)
        config = Config()
        namespace: dict = {"__file__": str(ROOT / "config" / "gunicorn.py")}
        exec(
            compile((ROOT / "config" / "gunicorn.py").read_text(), "gunicorn.py", "exec"), namespace
        )
        for name, value in namespace.items():
            if name in config.settings:
                config.set(name, value)
        return config

    default = load()
    assert default.keepalive >= 10
    assert default.worker_class_str == "gthread"
    assert (default.workers, default.threads, default.bind) == (2, 4, ["0.0.0.0:8000"])
    tuned = load(PORT="9000", WEB_CONCURRENCY="3", GUNICORN_KEEPALIVE="30")
    assert (tuned.workers, tuned.keepalive, tuned.bind) == (3, 30, ["0.0.0.0:9000"])


def test_check_deploy_reports_nothing_with_the_documented_production_values(tmp_path):
    """`manage.py check --deploy` with the production values `.env.example` documents
    (DJANGO_HTTPS=1, a generated key, DEBUG off) reports no issues at all."""
    import os
    import subprocess
    import sys

    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DJANGO_ENV_FILE": str(tmp_path / "absent.env"),
        "DJANGO_DEBUG": "0",
        "DJANGO_HTTPS": "1",
        "DJANGO_SECRET_KEY": "kq8#vT2m!pX9w$Lr4zN7@cB1fH6jD3sG5yE0uA8iO2nR7tW4-production-like",
        "DJANGO_ALLOWED_HOSTS": "catalog.example.org",
        "DJANGO_CSRF_TRUSTED_ORIGINS": "https://catalog.example.org",
        "SITE_URL": "https://catalog.example.org",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
    }
    done = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "DEBUG"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "System check identified no issues (0 silenced)."
    assert "DJANGO_HTTPS" in (ROOT / ".env.example").read_text()
