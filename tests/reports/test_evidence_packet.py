"""The evidence packet: one PDF per chargeback, from the records, read back as a bank would read it."""

from __future__ import annotations

import logging
import tracemalloc
from datetime import timedelta
from io import BytesIO

import pytest
from django.urls import reverse
from django.utils import timezone
from pypdf import PdfReader

from cases.customer_words import plain
from cases.models import RefundCase
from cases.services.chargebacks import chargeback_record
from policies.models import Clause
from policies.selectors import policy_for_order
from policies.words import clause_text
from reports.evidence_packet import evidence_packet, font_paths
from tests.admin.conftest import client_for
from tests.conftest import make_order
from tests.reports.packet_world import (
    CUSTOMER_MESSAGE,
    DESCRIPTION,
    PROOF_TEXT,
    STAFF_NOTE,
    STAFF_REPLY,
    disputed_order,
    upload,
)

pytestmark = pytest.mark.usefixtures("media", "portal_links")


@pytest.fixture
def portal_links(settings):
    settings.PORTAL_BASE_URL = "http://testserver"


def read(pdf: bytes | bytearray) -> tuple[PdfReader, str]:
    """The PDF as a reader, and its text with every run of white space made one space."""
    assert pdf.startswith(b"%PDF-")
    reader = PdfReader(BytesIO(bytes(pdf)))
    text = " ".join(" ".join(page.extract_text() or "" for page in reader.pages).split())
    return reader, text


def images_in(reader: PdfReader) -> int:
    """How many images the pages draw (an image drawn twice counts twice)."""
    count = 0
    for page in reader.pages:
        objects = page.get("/Resources", {}).get("/XObject", {})
        count += sum(1 for ref in objects.values() if ref.get_object().get("/Subtype") == "/Image")
    return count


def words(text: str) -> str:
    return " ".join(text.split())


def test_it_puts_the_order_the_policy_the_timeline_and_every_image_in_one_pdf(s1, agent):
    world = disputed_order(s1, agent=agent, screenshots=3)

    reader, text = read(evidence_packet(world.chargeback))

    order = world.order
    assert f"#{order.number}" in text and "dp_1QzX9" in text
    assert "The customer says they never received what they paid for" in text and "product_not_received" not in text
    assert "59.99 EUR" in text and "Card" in text
    assert "Access details created and sent" in text
    assert "version 2025-12-05" in text
    # The clauses that decided the case, as the version in force at purchase words them.
    policy = policy_for_order(order)
    for clause_id in ("S1-NOT-ELIGIBLE",):
        clause = Clause.objects.get(clause_id=clause_id)
        assert clause_id in text and words(plain(clause_text(clause.summary, policy))) in text
    # The timeline in the customer's words, their messages and ours.
    for entry in ("You asked for a refund", "You wrote", "You sent a file", "Message from our support team",
                  "Refund declined", "I changed my mind", "The refund policy does not cover a change of mind"):
        assert entry in text, entry
    assert words(CUSTOMER_MESSAGE) in text and words(STAFF_REPLY) in text and words(DESCRIPTION) in text
    assert words(PROOF_TEXT) in text
    # One image for each image received: the customer's screenshots and our proof of service.
    assert len(world.images) == 4
    assert images_in(reader) == len(world.images)
    # Never a staff-only note, a staff member's name, or a link to the customer's case page.
    assert STAFF_NOTE not in text and "alice" not in text
    assert "/portal/" not in text and "http://testserver" not in text


def test_it_never_quotes_another_storefronts_clause_even_from_an_old_decision(s1, s0, agent):
    world = disputed_order(s1, agent=agent, screenshots=1)
    # A decision stored before clause IDs were checked per storefront cites S0's window.
    RefundCase.objects.filter(pk=world.case.pk).update(
        decision={**world.case.decision, "clauses": ["S0-WINDOW", "S0-PRORATE", *world.case.decision["clauses"]]}
    )
    s0_texts = [words(plain(c.summary)) for c in Clause.objects.filter(storefront=s0)]

    _, text = read(evidence_packet(world.chargeback))

    assert "S0-" not in text
    assert not [summary for summary in s0_texts if summary and summary in text]
    assert "S1-NOT-ELIGIBLE" in text


def test_it_makes_a_packet_for_a_chargeback_typed_in_on_an_order_nobody_asked_about(s1, agent):
    order = make_order(s1, purchased_at=timezone.now() - timedelta(days=3))
    chargeback = chargeback_record(order=order, actor=agent, amount="59.99",
                                   opened_at=timezone.now() - timedelta(days=1), processor_reference="ch_typed")

    reader, text = read(evidence_packet(chargeback))

    assert f"#{order.number}" in text and "ch_typed" in text
    assert "never asked us for a refund" in text
    # The sanction's own clause, which decided what this chargeback did to the order.
    assert "S1-CHARGEBACK" in text and "Chargeback without contacting us first" in text
    assert "whole text of the version in force at purchase" in text and images_in(reader) == 0


@pytest.mark.skipif(font_paths() is None, reason="DejaVu Sans is not installed (Debian: fonts-dejavu-core)")
def test_it_prints_names_and_symbols_beyond_latin1(s1, agent):
    world = disputed_order(s1, agent=agent, screenshots=1)

    pdf = evidence_packet(world.chargeback)

    _, text = read(pdf)
    assert "Zoë Ødegård" in text and "59.99 € back ✓" in text
    assert b"DejaVuSans" in pdf


def test_it_falls_back_to_a_builtin_font_when_dejavu_is_missing(s1, agent, settings, tmp_path, caplog):
    settings.EVIDENCE_PACKET_FONT_DIR = str(tmp_path / "no-fonts-here")
    world = disputed_order(s1, agent=agent, screenshots=1)

    with caplog.at_level(logging.WARNING, logger="reports.evidence_packet"):
        pdf = evidence_packet(world.chargeback)

    _, text = read(pdf)
    assert "Zoë Ødegård" in text and "59.99 EUR back" in text and f"#{world.order.number}" in text
    assert b"DejaVuSans" not in pdf and b"Helvetica" in pdf
    assert "DejaVu Sans was not found" in caplog.text


def test_it_keeps_a_packet_of_fifty_photos_within_reasonable_memory(s1, agent, settings):
    settings.EVIDENCE_MAX_FILES_PER_CASE = 60
    photos = [("screenshot", upload(f"photo-{n}.jpg", fmt="JPEG", size=(1200, 900), noise=True), True)
              for n in range(49)]
    world = disputed_order(s1, agent=agent, screenshots=1, more=photos)
    assert len(world.images) == 50 + 1  # with our proof of service

    tracemalloc.start()
    try:
        pdf = evidence_packet(world.chargeback)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    reader, _ = read(pdf)
    assert images_in(reader) == 51
    # Photos of noise are the worst case for JPEG (about 0.6 MB each, re-encoded). The peak is the
    # images held for the PDF and the PDF written out, not fifty photos decoded.
    assert peak < 2.5 * len(pdf) + 20 * 1024 * 1024, (peak, len(pdf))


# --- the download -------------------------------------------------------------------------------


def packet_url(chargeback) -> str:
    return reverse("admin:orders_chargeback_evidence_packet", args=[chargeback.pk])


def test_it_gives_a_manager_the_packet_linked_from_the_dispute_page(s1, agent, manager):
    world = disputed_order(s1, agent=agent, screenshots=1)
    client = client_for(manager)

    page = client.get(reverse("admin:orders_chargeback_change", args=[world.chargeback.pk])).content.decode()
    response = client.get(packet_url(world.chargeback))

    assert f'href="{packet_url(world.chargeback)}"' in page and "Evidence packet (PDF)" in page
    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"] == f'attachment; filename="evidence-{world.order.number}-dp_1QzX9.pdf"'
    assert {"private", "no-store"} <= {part.strip() for part in response["Cache-Control"].split(",")}
    pdf = b"".join(response.streaming_content)
    assert int(response["Content-Length"]) == len(pdf)
    assert f"#{world.order.number}" in read(pdf)[1]


def test_it_refuses_the_packet_to_an_agent_and_staff_without_the_permission(s1, agent, outsider):
    world = disputed_order(s1, agent=agent, screenshots=1)

    page = client_for(agent).get(reverse("admin:orders_chargeback_change", args=[world.chargeback.pk]))

    assert page.status_code == 200 and "Evidence packet" not in page.content.decode()
    for user in (agent, outsider):
        assert client_for(user).get(packet_url(world.chargeback)).status_code == 403
        # A made-up address gets the same answer: whether a chargeback exists is not told either.
        assert client_for(user).get(packet_url(world.chargeback).replace(str(world.chargeback.pk), "999999")
                                    ).status_code == 403


def test_it_answers_a_manager_404_for_no_such_chargeback_and_405_for_a_post(s1, agent, manager):
    world = disputed_order(s1, agent=agent, screenshots=1)
    client = client_for(manager)

    assert client.get(reverse("admin:orders_chargeback_evidence_packet", args=[999999])).status_code == 404
    assert client.post(packet_url(world.chargeback)).status_code == 405


def test_it_sends_someone_logged_out_to_the_login_page(s1, agent, client):
    world = disputed_order(s1, agent=agent, screenshots=1)

    response = client.get(packet_url(world.chargeback))

    assert response.status_code == 302 and response["Location"].startswith(reverse("admin:login"))


def test_it_lets_whoever_is_given_the_permission_have_it(s1, agent):
    from django.contrib.auth.models import Permission, User

    from tests.conftest import make_user

    world = disputed_order(s1, agent=agent, screenshots=1)
    specialist = make_user("disa", "Support agent")
    specialist.user_permissions.add(Permission.objects.get(codename="download_evidence_packet"))

    response = client_for(User.objects.get(pk=specialist.pk)).get(packet_url(world.chargeback))

    assert response.status_code == 200
