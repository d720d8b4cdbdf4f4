"""Start the product's own processes (web server, django-q2 clusters) for tests that need real ones."""

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from django.conf import settings

MANAGE = [sys.executable, "manage.py"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def product_environment(**overrides: str) -> dict[str, str]:
    """The environment of a product process: the product's settings, nothing of the test run's."""
    env = {key: value for key, value in os.environ.items() if not key.startswith(("Q_", "DJANGO_", "CACHE_URL"))}
    env.update(
        DJANGO_SETTINGS_MODULE="commerce.settings",
        ENV_FILE="",
        SECRET_KEY="process-test-secret-key",
        LOG_LEVEL="INFO",
        PYTHONUNBUFFERED="1",
    )
    env.update(overrides)
    return env


def manage(*args: str, env: dict[str, str], timeout: int = 300) -> str:
    """Run a management command to its end; fail with its output when it fails."""
    done = subprocess.run(
        [*MANAGE, *args], cwd=settings.BASE_DIR, env=env, capture_output=True, text=True, timeout=timeout
    )
    assert done.returncode == 0, f"manage.py {' '.join(args)} exited {done.returncode}:\n{done.stdout}\n{done.stderr}"
    return done.stdout


def start(args: list[str], *, env: dict[str, str], log: Path) -> subprocess.Popen:
    """Start a process in its own session, its output in ``log``."""
    handle = log.open("w")
    return subprocess.Popen(
        args, cwd=settings.BASE_DIR, env=env, stdout=handle, stderr=subprocess.STDOUT, start_new_session=True
    )


def stop(process: subprocess.Popen) -> None:
    """TERM the process (a cluster stops its workers on it), KILL it when it does not end."""
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def wait_for_http(url: str, *, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=5):  # noqa: S310 (a local test URL)
                return
        except urllib.error.HTTPError:
            return  # it answers
        except OSError:
            time.sleep(0.3)
    raise AssertionError(f"nothing answered at {url} within {timeout} s")


def _parse(raw: bytes) -> dict:
    try:
        return json.loads(raw or b"{}")
    except ValueError:
        return {"body": raw.decode(errors="replace")[-2000:]}


def http_json(method: str, url: str, body: dict | None = None, *, headers: dict | None = None) -> tuple[int, dict]:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(  # noqa: S310 (a local test URL)
        url, data=data, method=method, headers={"Content-Type": "application/json", **(headers or {})}
    )
    try:
        with urllib.request.urlopen(request, timeout=60) as response:  # noqa: S310
            return response.status, _parse(response.read())
    except urllib.error.HTTPError as error:
        return error.code, _parse(error.read())
