"""The payments admin: read-only money records, with their gateway calls, without N+1 queries."""

from decimal import Decimal

import pytest
from django.urls import reverse

from payments.models import AcceptPolicy
from payments.services import payment_capture
from tests.factories.commerce import UserFactory
from tests.factories.orders import OrderFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(client):
    client.force_login(UserFactory(username="root", is_staff=True, is_superuser=True))
    return client


def test_payment_page_shows_its_transactions_read_only(admin_client, authorized):
    payment = payment_capture(payment=authorized("tok_approve"))

    response = admin_client.get(reverse("admin:payments_payment_change", args=[payment.pk]))

    assert response.status_code == 200
    content = response.content.decode()
    assert payment.authorization_reference in content
    assert payment.capture_key in content
    assert 'name="_save"' not in content
    assert admin_client.get(reverse("admin:payments_payment_add")).status_code == 403


def test_payment_list_queries_do_not_grow_with_the_rows(admin_client, store, authorized, django_assert_max_num_queries):
    authorized("tok_approve")
    url = reverse("admin:payments_payment_changelist")
    admin_client.get(url)
    with django_assert_max_num_queries(20) as few:
        admin_client.get(url)
    for _ in range(5):
        authorized("tok_approve", for_order=OrderFactory(store=store, grand_total=Decimal("5.00")))

    with django_assert_max_num_queries(len(few.captured_queries)):
        response = admin_client.get(url)

    assert response.status_code == 200


def test_accept_policies_are_edited_in_the_admin(admin_client, store):
    response = admin_client.post(
        reverse("admin:payments_acceptpolicy_add"),
        {
            "store": store.pk,
            "method": "card",
            "accepted": "on",
            "review_threshold": "500.00",
            "review_avs_results": '["mismatch"]',
            "review_cvv_results": "[]",
        },
    )

    assert response.status_code == 302
    policy = AcceptPolicy.objects.get()
    assert (policy.review_threshold, policy.review_cvv_results) == (Decimal("500.00"), [])
    assert admin_client.get(reverse("admin:payments_acceptpolicy_changelist")).status_code == 200
