"""create_pick_batch and render_pick_batch."""

from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from fulfillment.batches import pick_batch_create
from fulfillment.models import PickBatch, PrintRecord
from tests.factories.fulfillment import released_order
from tests.fulfillment.conftest import pdf_pages

pytestmark = pytest.mark.django_db


def run(*args) -> str:
    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def test_create_pick_batch_prints_the_batch_and_its_totes(east, products):
    order = released_order(lines=[(products[0], {east: 1})])

    output = run("create_pick_batch", "--fulfillment-center", "EAST")

    batch = PickBatch.objects.get()
    assert f"Pick batch {batch.number} (id {batch.pk}) at EAST: 1 release(s)" in output
    assert f"T1  {order.number}-1" in output


def test_create_pick_batch_for_an_unknown_center_fails(east):
    with pytest.raises(CommandError, match="No active fulfillment center 'MOON'"):
        run("create_pick_batch", "--fulfillment-center", "MOON")


def test_create_pick_batch_with_nothing_ready_fails_with_the_reason(east):
    with pytest.raises(CommandError, match="No release is ready to pick at EAST"):
        run("create_pick_batch", "--fulfillment-center", "EAST")


def test_render_pick_batch_writes_both_pdfs_and_prints_their_paths(east, products, tmp_path):
    order = released_order(lines=[(products[0], {east: 1})])
    batch = pick_batch_create(fulfillment_center=east)
    output_dir = tmp_path / "out" / "today"

    output = run("render_pick_batch", str(batch.pk), "--output", str(output_dir))

    ticket, slips = output_dir / f"{batch.number}-pick-ticket.pdf", output_dir / f"{batch.number}-packing-slips.pdf"
    assert str(ticket) in output and str(slips) in output
    assert batch.number in pdf_pages(ticket.read_bytes())[0]
    assert order.number in pdf_pages(slips.read_bytes())[0]
    assert not PrintRecord.objects.exists()  # written for printing, not printed


@pytest.mark.parametrize("bad_id", ["999999", "abc", "-1"])
def test_render_pick_batch_with_a_bad_id_exits_1_with_a_clear_message(bad_id, tmp_path, east):
    with pytest.raises(CommandError, match="pick batch") as raised:
        run("render_pick_batch", bad_id, "--output", str(tmp_path))

    assert raised.value.returncode == 1
    assert not list(tmp_path.iterdir())


def test_render_pick_batch_exit_status_is_1_from_the_shell(tmp_path):
    import subprocess
    import sys

    result = subprocess.run(
        [sys.executable, "manage.py", "render_pick_batch", "nope", "--output", str(tmp_path)],
        capture_output=True,
        text=True,
        env={"DEBUG": "1", "PATH": ""},
        check=False,
    )

    assert result.returncode == 1
    assert "is not a pick batch id" in result.stderr
