"""Running it: static files under a WSGI server with DEBUG off, the local .env, production checks, pages."""

import io
import subprocess
from wsgiref.util import setup_testing_defaults

import pytest
from django.conf import settings
from django.core.management import call_command
from django.core.wsgi import get_wsgi_application
from django.test import override_settings

from tests.commerce.processes import MANAGE, product_environment

ADMIN_CSS = "/static/admin/css/base.css"

PRODUCTION = {
    "SECRET_KEY": "x7Vq2pLr9TzK4mWc8YbN1sHd6FjG3aQe5RuXo0iPlMnBvCtZyEwSgAhDkJfUq7Lr",
    "ALLOWED_HOSTS": "shop.example.com",
    "SECURE_SSL_REDIRECT": "1",
    "SECURE_HSTS_SECONDS": "31536000",
    "SECURE_HSTS_INCLUDE_SUBDOMAINS": "1",
    "SECURE_HSTS_PRELOAD": "1",
    # Login lockouts are counted in the cache: production shares it between processes.
    "CACHE_URL": "redis://127.0.0.1:6379/0",
}


def wsgi_get(path: str) -> tuple[str, bytes]:
    environ = {"PATH_INFO": path, "REQUEST_METHOD": "GET", "HTTP_HOST": "localhost"}
    setup_testing_defaults(environ)
    status = []
    body = get_wsgi_application()(environ, lambda code, headers: status.append(code))
    return status[0], b"".join(body)


def test_the_wsgi_app_serves_collected_static_files_with_debug_off(tmp_path, db):
    # Given the static files collected into a folder, as the production set-up does.
    with override_settings(STATIC_ROOT=tmp_path, DEBUG=False):
        call_command("collectstatic", "--noinput", stdout=io.StringIO())

        # When a browser asks the WSGI application (what gunicorn runs) for the admin's style sheet.
        status, body = wsgi_get(ADMIN_CSS)
        missing, _ = wsgi_get("/static/admin/css/no-such-file.css")

    # Then WhiteNoise serves it.
    assert status.startswith("200"), status
    assert b"--body-bg" in body
    assert missing.startswith("404")


def test_without_collected_files_the_style_sheet_is_missing(tmp_path, db):
    """The check above can fail: an empty static root serves nothing."""
    with override_settings(STATIC_ROOT=tmp_path, DEBUG=False):
        status, _ = wsgi_get(ADMIN_CSS)
    assert status.startswith("404")


def run_manage(*args: str, **env: str) -> subprocess.CompletedProcess:
    environment = product_environment()
    for name in ("SECRET_KEY", "DEBUG", "DATABASE_URL"):
        environment.pop(name, None)
    environment.update(env)
    return subprocess.run(
        [*MANAGE, *args], cwd=settings.BASE_DIR, env=environment, capture_output=True, text=True, timeout=120
    )


@pytest.mark.slow
def test_check_deploy_is_clean_with_the_production_environment(tmp_path):
    done = run_manage(
        "check", "--deploy", "--fail-level", "WARNING", DATABASE_URL=f"sqlite:///{tmp_path}/db.sqlite3", **PRODUCTION
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "no issues" in done.stdout


@pytest.mark.slow
def test_check_deploy_warns_without_https_settings(tmp_path):
    env = {key: value for key, value in PRODUCTION.items() if not key.startswith("SECURE_")}
    done = run_manage(
        "check", "--deploy", "--fail-level", "WARNING", DATABASE_URL=f"sqlite:///{tmp_path}/db.sqlite3", **env
    )
    assert done.returncode != 0
    assert "security.W004" in done.stderr  # HSTS
    assert "security.W008" in done.stderr  # HTTPS redirect


@pytest.mark.slow
def test_management_commands_run_with_the_local_env_file_alone(tmp_path):
    # Given the .env scripts/run writes, and nothing else in the environment.
    env_file = tmp_path / ".env"
    env_file.write_text(
        "# local\nDEBUG=1\nSECRET_KEY='local-development-key'\n"
        f"DATABASE_URL=sqlite:///{tmp_path}/db.sqlite3\nEMAIL_BACKEND=django.core.mail.backends.locmem.EmailBackend\n"
    )
    assert run_manage("migrate", "--noinput", ENV_FILE=str(env_file)).returncode == 0

    # When the README's commands run.
    exceptions = run_manage("order_exceptions", ENV_FILE=str(env_file))
    without = run_manage("order_exceptions", ENV_FILE="", DATABASE_URL=f"sqlite:///{tmp_path}/db.sqlite3")

    # Then they run; without the file they stop on the missing secret key.
    assert exceptions.returncode == 0, exceptions.stderr
    assert without.returncode != 0
    assert "SECRET_KEY must be set" in without.stderr


def test_the_view_site_link_leads_to_a_page(client, admin_user):
    client.force_login(admin_user)
    index = client.get("/admin/")
    assert index.context["site_url"] == "/"
    home = client.get("/")
    assert home.status_code == 200
    assert b"/admin/" in home.content
    assert b"/api/docs/" in home.content


def test_a_refused_admin_page_is_the_styled_403_with_a_way_back(client, django_user_model):
    clerk = django_user_model.objects.create_user("nobody", password="pw", is_staff=True)
    client.force_login(clerk)
    response = client.get("/admin/orders/order/exceptions/")
    assert response.status_code == 403
    text = response.content.decode()
    assert "You may not do this" in text
    assert 'id="forbidden-back" class="button" href="/admin/"' in text
    assert "admin/css/base.css" in text
