"""Typed clients generated from the live schema work without hand edits.

openapi-python-client generates a Python client from ``/api/schema/`` as served by a live server, and
the storefront flow runs with it: login, products, availability, place, list, read (with its ETag),
cancel, and a 409 that arrives as a typed error. Where Node is present, openapi-typescript generates
TypeScript types that a small program using them type-checks against with ``tsc --noEmit``.
"""

import importlib
import os
import shutil
import subprocess
import sys
import textwrap
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command

pytestmark = pytest.mark.slow

BIN = Path(sys.executable).parent
CONFIG = textwrap.dedent("""\
    content_type_overrides:
      application/pdf: application/octet-stream
    post_hooks: []
""")


@pytest.fixture
def demo_server(live_server):
    call_command("seed_demo", stdout=StringIO())
    return live_server


def generate_python_client(url: str, folder: Path) -> None:
    config = folder / "config.yaml"
    config.write_text(CONFIG)
    result = subprocess.run(
        [
            str(BIN / "openapi-python-client"),
            "generate",
            "--url",
            f"{url}/api/schema/?format=json",
            "--meta",
            "none",
            "--output-path",
            str(folder / "commerce_client"),
            "--config",
            str(config),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=folder,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    # Every operation became a module: nothing was skipped as unparseable.
    assert "WARNING" not in result.stdout + result.stderr, result.stdout + result.stderr


@pytest.mark.django_db(transaction=True)
def test_a_python_client_generated_from_the_schema_runs_the_storefront_flow(demo_server, tmp_path, monkeypatch):
    generate_python_client(demo_server.url, tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    client_package = importlib.import_module("commerce_client")
    from commerce_client.api.auth import auth_token_create
    from commerce_client.api.orders import orders_cancel, orders_create, orders_list, orders_retrieve
    from commerce_client.api.products import products_availability_retrieve, products_list, products_retrieve
    from commerce_client.models import (
        AddressRequest,
        AuthTokenRequest,
        ErrorCodeEnum,
        ErrorResponse,
        MethodEnum,
        Order,
        OrderStatusEnum,
        PaginatedOrderList,
        PaymentInputRequest,
        PlaceItemRequest,
        PlaceOrderRequest,
        ReasonRequest,
    )

    anonymous = client_package.Client(base_url=demo_server.url)
    login = auth_token_create.sync_detailed(
        client=anonymous, body=AuthTokenRequest(username="alice", password="demo-password")
    )
    assert login.status_code == 200
    alice = client_package.AuthenticatedClient(base_url=demo_server.url, token=login.parsed.token, prefix="Token")

    found = products_list.sync(client=alice, search="tshirt")
    assert [product.sku for product in found.results] == ["DEMO-TSHIRT"]
    assert products_retrieve.sync("DEMO-TSHIRT", client=alice).price == "19.00"
    availability = products_availability_retrieve.sync("DEMO-TSHIRT", client=alice)
    assert availability.available_quantity == 150

    body = PlaceOrderRequest(
        items=[PlaceItemRequest(sku="DEMO-TSHIRT", quantity=2)],
        payment=PaymentInputRequest(method=MethodEnum.CARD, token="tok_approve"),
        shipping_address=AddressRequest(
            name="Alice Example",
            line1="12 Elm Street",
            city="Springfield",
            region="IL",
            postal_code="62701",
            country="US",
        ),
    )
    placed = orders_create.sync_detailed(client=alice, body=body)
    assert placed.status_code == 201
    order = placed.parsed
    assert isinstance(order, Order)
    assert order.status == OrderStatusEnum.C
    assert order.totals.product == "38.00"

    listed = orders_list.sync(client=alice)
    assert isinstance(listed, PaginatedOrderList)
    assert [o.number for o in listed.results] == [order.number]

    read = orders_retrieve.sync_detailed(order.number, client=alice)
    assert read.status_code == 200 and read.parsed.number == order.number
    unchanged = orders_retrieve.sync_detailed(order.number, client=alice, if_none_match=read.headers["ETag"])
    assert unchanged.status_code == 304

    cancelled = orders_cancel.sync(order.number, client=alice, body=ReasonRequest(reason="Changed my mind"))
    assert cancelled.status == OrderStatusEnum.X

    again = orders_cancel.sync_detailed(order.number, client=alice, body=ReasonRequest(reason="Twice"))
    assert again.status_code == 409
    assert isinstance(again.parsed, ErrorResponse)
    assert again.parsed.error.code == ErrorCodeEnum.INVALID_TRANSITION

    missing = orders_retrieve.sync_detailed("000000-NOPE", client=alice)
    assert missing.status_code == 404
    assert missing.parsed.error.code == ErrorCodeEnum.NOT_FOUND


TS_PROGRAM = """\
import type { components, paths } from "./schema";

type Order = components["schemas"]["Order"];
type ErrorResponse = components["schemas"]["ErrorResponse"];
type PlaceOrder = paths["/api/v1/orders/"]["post"]["requestBody"]["content"]["application/json"];
type Conflict = paths["/api/v1/orders/{number}/cancel/"]["post"]["responses"][409]["content"]["application/json"];

const body: PlaceOrder = {
  items: [{ sku: "DEMO-TSHIRT", quantity: 2 }],
  payment: { method: "card", token: "tok_approve" },
  shipping_address: { name: "Alice", line1: "12 Elm Street", city: "Springfield", postal_code: "62701", country: "US" },
};

function describe(order: Order): string {
  const status: "P" | "I" | "W" | "N" | "M" | "A" | "B" | "C" | "R" | "S" | "D" | "X" = order.status;
  return `${order.number} ${status} ${order.totals.grand_total} ${order.currency}`;
}

function explain(conflict: Conflict): ErrorResponse["error"]["code"] {
  return conflict.error.code;
}

const code: ErrorResponse["error"]["code"] = "invalid_transition";
export { body, describe, explain, code };
"""

WRONG_TS_PROGRAM = """\
import type { components } from "./schema";
const code: components["schemas"]["ErrorResponse"]["error"]["code"] = "no_such_code";
export { code };
"""


def npm_install(cache: Path) -> Path | None:
    """openapi-typescript and typescript in a cached folder; None when the registry cannot be reached."""
    folder = cache / "ts-tools"
    if (folder / "node_modules" / ".bin" / "tsc").exists():
        return folder
    folder.mkdir(parents=True, exist_ok=True)
    result = subprocess.run(
        ["npm", "install", "--no-audit", "--no-fund", "--prefix", str(folder), "openapi-typescript@7", "typescript@5"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    return folder if result.returncode == 0 else None


@pytest.mark.django_db
def test_typescript_types_generated_from_the_schema_type_check_a_program(tmp_path, request):
    if not (shutil.which("node") and shutil.which("npm")):
        pytest.skip("node and npm are not installed")
    cache = Path(os.environ.get("TS_TOOLS_CACHE", request.config.rootpath / "var" / "cache"))
    tools = npm_install(cache)
    if tools is None:
        pytest.skip("the npm registry is unreachable: openapi-typescript and typescript could not be installed")
    schema = tmp_path / "schema.json"
    call_command("spectacular", "--format", "openapi-json", "--file", str(schema))
    bin_dir = tools / "node_modules" / ".bin"
    generated = subprocess.run(
        [str(bin_dir / "openapi-typescript"), str(schema), "-o", str(tmp_path / "schema.d.ts")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert generated.returncode == 0, generated.stdout + generated.stderr

    def tsc(program: str) -> subprocess.CompletedProcess:
        (tmp_path / "main.ts").write_text(program)
        return subprocess.run(
            [str(bin_dir / "tsc"), "--noEmit", "--strict", "--target", "es2020", "main.ts"],
            capture_output=True,
            text=True,
            timeout=120,
            cwd=tmp_path,
        )

    checked = tsc(TS_PROGRAM)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    # The check can fail: an error code outside the enum does not compile.
    wrong = tsc(WRONG_TS_PROGRAM)
    assert wrong.returncode != 0 and "no_such_code" in wrong.stdout
