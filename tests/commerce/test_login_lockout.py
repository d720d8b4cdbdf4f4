"""The staff door: django-axes locks a user name or an address out after repeated failed logins."""

import logging
import time
from datetime import timedelta

import pytest
from django.test import override_settings

LOGIN = "/admin/login/?next=/admin/"
PASSWORD = "right-password-1"
LIMIT = 5


HANDLERS = ["axes.handlers.database.AxesDatabaseHandler", "axes.handlers.cache.AxesCacheHandler"]


@pytest.fixture(params=HANDLERS, ids=["database", "cache"])
def handler(request, settings):
    """Both places the counts live: the database (no shared cache) and the cache (production, Redis)."""
    settings.AXES_HANDLER = request.param
    return request.param


@pytest.fixture
def staff(django_user_model):
    return django_user_model.objects.create_user("clerk1", password=PASSWORD, is_staff=True)


def login(client, username: str, password: str, address: str = "10.0.0.1"):
    return client.post(LOGIN, {"username": username, "password": password}, REMOTE_ADDR=address)


def logged_in(client) -> bool:
    return client.get("/admin/").status_code == 200


@pytest.mark.django_db
def test_wrong_passwords_lock_the_user_out_and_the_page_says_for_how_long(client, staff, handler, caplog):
    # Given LIMIT wrong passwords in a row.
    with caplog.at_level(logging.WARNING, logger="commerce.security"):
        answers = [login(client, "clerk1", f"wrong-{n}").status_code for n in range(LIMIT)]

    # When the right one follows.
    response = login(client, "clerk1", PASSWORD)

    # Then the login is refused with the lockout page, and the lockout is logged.
    assert answers[: LIMIT - 1] == [200] * (LIMIT - 1)  # the login form again, with its error
    assert answers[-1] == 429
    assert response.status_code == 429
    text = response.content.decode()
    assert "Too many failed logins" in text
    assert "Try again in 15 minutes" in text
    assert int(response["Retry-After"]) in range(14 * 60, 15 * 60 + 1)
    assert not logged_in(client)
    locked = [record for record in caplog.records if "locked out" in record.getMessage()]
    assert len(locked) == 1
    assert "clerk1" in locked[0].getMessage()
    assert "10.0.0.1" in locked[0].getMessage()


@pytest.mark.django_db
def test_one_failure_fewer_than_the_limit_still_lets_the_right_password_in(client, staff):
    for n in range(LIMIT - 1):
        login(client, "clerk1", f"wrong-{n}")
    response = login(client, "clerk1", PASSWORD)
    assert response.status_code == 302
    assert logged_in(client)


@pytest.mark.django_db
def test_the_address_is_locked_out_whatever_user_name_it_tries(client, staff, handler):
    # Given failures for many user names from one address.
    for n in range(LIMIT):
        login(client, f"guess-{n}", "wrong", address="10.0.0.9")

    # Then a real user from that address is refused, and from another address let in.
    assert login(client, "clerk1", PASSWORD, address="10.0.0.9").status_code == 429
    assert login(client, "clerk1", PASSWORD, address="10.0.0.2").status_code == 302


@pytest.mark.django_db
def test_the_user_is_locked_out_from_every_address(client, staff, handler):
    for n in range(LIMIT):
        login(client, "clerk1", "wrong", address=f"10.0.1.{n}")
    assert login(client, "clerk1", PASSWORD, address="10.0.2.1").status_code == 429


@pytest.mark.django_db
def test_the_lockout_ends_after_the_cool_off(client, staff):
    with override_settings(AXES_COOLOFF_TIME=timedelta(seconds=2)):
        for n in range(LIMIT):
            login(client, "clerk1", f"wrong-{n}")
        refused = login(client, "clerk1", PASSWORD)
        time.sleep(2.2)
        admitted = login(client, "clerk1", PASSWORD)
    assert refused.status_code == 429
    assert "Try again in 2 seconds" in refused.content.decode() or "Try again in 1 second" in refused.content.decode()
    assert admitted.status_code == 302


@pytest.mark.django_db
def test_the_api_token_login_is_locked_out_too(api_client, staff):
    """A locked-out user gets the answer of a wrong password (the contract's 400), never a token."""
    for n in range(LIMIT):
        api_client.post("/api/v1/auth/token/", {"username": "clerk1", "password": f"wrong-{n}"}, format="json")
    response = api_client.post("/api/v1/auth/token/", {"username": "clerk1", "password": PASSWORD}, format="json")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "validation_error"
    assert "token" not in response.json()


@pytest.mark.django_db
def test_a_lockout_lifted_by_an_administrator_and_earned_again_counts_from_anew(client, staff, handler):
    from axes.utils import reset
    from django.core.cache import cache

    from commerce.lockout import LOCKED_UNTIL_KEY

    with override_settings(AXES_COOLOFF_TIME=timedelta(minutes=1)):
        for n in range(LIMIT):
            login(client, "clerk1", f"wrong-{n}")
    key = LOCKED_UNTIL_KEY.format(kind="user", value="clerk1")
    assert cache.get(key)
    reset(username="clerk1", ip="10.0.0.1")
    assert login(client, "clerk1", PASSWORD).status_code == 302

    for n in range(LIMIT):
        login(client, "clerk1", f"wrong-again-{n}")
    response = login(client, "clerk1", PASSWORD)

    assert response.status_code == 429
    assert "Try again in 15 minutes" in response.content.decode()
