import pytest
from django.db import connection
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from commerce.roles import sync_roles
from tests.factories.commerce import CustomerFactory, StaffUserFactory, StoreFactory


def pytest_collection_modifyitems(config, items):
    """Skip PostgreSQL-only tests on another database, and say so at the end."""
    if connection.vendor == "postgresql":
        return
    skip = pytest.mark.skip(reason="needs PostgreSQL (row locks and real concurrency)")
    for item in items:
        if "postgres" in item.keywords:
            item.add_marker(skip)


def pytest_report_header(config):
    return f"database: {connection.vendor} ({connection.settings_dict['NAME']})"


@pytest.fixture(autouse=True)
def _empty_cache():
    """Each test starts with an empty cache (throttle counters, cached accept policies)."""
    from django.core.cache import cache

    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def demo(db):
    """The demo data of ``seed_demo``."""
    from io import StringIO

    from django.core.management import call_command

    call_command("seed_demo", stdout=StringIO())


@pytest.fixture
def as_user(demo):
    """An API client logged in as a demo user: ``as_user("alice")``."""
    from django.contrib.auth import get_user_model

    return lambda username: client_for(get_user_model().objects.get(username=username))


@pytest.fixture
def store(db):
    return StoreFactory(is_default=True)


@pytest.fixture
def api_client():
    return APIClient()


def client_for(user) -> APIClient:
    client = APIClient()
    token, _ = Token.objects.get_or_create(user=user)
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    return client


@pytest.fixture
def customer(db):
    return CustomerFactory()


@pytest.fixture
def customer_client(customer):
    return client_for(customer.user)


@pytest.fixture
def roles(db):
    """The role groups (a transactional test's flush removes what the migration made)."""
    sync_roles()
    from django.contrib.auth.models import Group

    return {group.name: group for group in Group.objects.all()}


@pytest.fixture
def staff_in_role(roles):
    def make(role: str, username: str | None = None):
        user = StaffUserFactory(**({"username": username} if username else {}))
        user.groups.add(roles[role])
        return user

    return make


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    skipped = [
        report.nodeid
        for report in terminalreporter.stats.get("skipped", [])
        if "PostgreSQL" in str(getattr(report, "longrepr", ""))
    ]
    if skipped:
        terminalreporter.write_sep("!", f"{len(skipped)} PostgreSQL-only tests SKIPPED on {connection.vendor}")
        for nodeid in skipped:
            terminalreporter.write_line(f"  skipped: {nodeid}")
        terminalreporter.write_line("  Set DATABASE_URL to a PostgreSQL database to run them.")
