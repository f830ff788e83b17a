"""Evidence uploads (S0-EVIDENCE, S1-VERIFY): real files made with Pillow, stored in a temporary MEDIA_ROOT."""

from __future__ import annotations

import hashlib
from io import BytesIO
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import DatabaseError, connection
from PIL import Image

from cases import services
from cases.evidence import evidence_add, evidence_thumbnail
from cases.models import CaseEvent, Evidence
from cases.states import State
from cases.sweeps import sweep_deadlines
from core.errors import CaseActionError, Code
from tests.cases import fresh, later, open_case
from tests.conftest import image_bytes

PDF_BYTES = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
LOG_BYTES = b"2026-01-01 10:05:12 login ok user=t0001 ip=203.0.113.9\n2026-01-01 10:06:40 stream 4K ok\n"


pytestmark = pytest.mark.usefixtures("media")


def upload(content: bytes, name: str = "screenshot.png", content_type: str = "") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, content, content_type=content_type)


def stored_files(media: Path) -> list[Path]:
    return [path for path in media.rglob("*") if path.is_file()]


def assert_refused(media: Path, case, code: str, **call) -> CaseActionError:
    events_before = case.events.count()
    with pytest.raises(CaseActionError) as caught:
        evidence_add(case=case, **call)
    assert caught.value.code == code
    assert caught.value.message.strip() and "{" not in caught.value.message
    assert not Evidence.objects.filter(case=case).exists()
    assert case.events.count() == events_before
    assert stored_files(media) == []
    return caught.value


# --- what is stored -----------------------------------------------------------------------------


def test_it_stores_a_customer_screenshot_with_its_hash_dimensions_and_a_random_name(s0, media):
    case = open_case(s0)
    content = image_bytes("PNG", size=(64, 48))

    evidence = evidence_add(case=case, kind="screenshot", upload=upload(content, "My Screen.png"),
                            from_customer=True, now=later(case.requested_at, hours=2))

    evidence.refresh_from_db()
    assert (evidence.content_type, evidence.width, evidence.height) == ("image/png", 64, 48)
    stored = Path(evidence.file.path)
    assert evidence.size == stored.stat().st_size
    # The hash is of the file as sent (it finds a second copy); what is stored is a re-encoded copy.
    assert evidence.sha256 == hashlib.sha256(content).hexdigest()
    assert evidence.original_name == "My Screen.png"
    assert evidence.from_customer and evidence.uploaded_by is None
    assert Image.open(stored).tobytes() == Image.open(BytesIO(content)).tobytes()
    assert stored.suffix == ".png" and "Screen" not in stored.name
    assert len(stored.stem) == 32
    event = case.events.get(kind=CaseEvent.Kind.EVIDENCE)
    assert event.visibility == CaseEvent.Visibility.CUSTOMER
    assert event.actor_label == "customer"
    assert event.created_at == later(case.requested_at, hours=2)
    assert event.data["evidence_id"] == evidence.pk
    assert event.data["sha256"] == evidence.sha256


@pytest.mark.parametrize(
    ("fmt", "name", "content_type"),
    [("JPEG", "photo.jpg", "image/jpeg"), ("WEBP", "shot.webp", "image/webp"), ("GIF", "error.gif", "image/png")],
)
def test_it_accepts_the_other_image_formats(s0, fmt, name, content_type):
    case = open_case(s0)
    content = image_bytes(fmt, size=(30, 20))

    evidence = evidence_add(case=case, kind="error_message", upload=upload(content, name), from_customer=True)

    # A GIF is kept as a still: its first frame, stored as PNG.
    assert evidence.content_type == content_type
    assert (evidence.width, evidence.height) == (30, 20)
    assert Image.open(evidence.file.path).format == content_type.split("/")[1].upper()


def test_it_sniffs_the_type_and_ignores_a_wrong_generic_client_type(s0):
    case = open_case(s0)

    evidence = evidence_add(case=case, kind="screenshot",
                            upload=upload(image_bytes("PNG"), "capture", "application/octet-stream"),
                            from_customer=True)

    assert evidence.content_type == "image/png"
    assert evidence.file.name.endswith(".png")


def test_it_stores_the_upright_dimensions_of_a_rotated_photo(s0):
    case = open_case(s0)
    # EXIF orientation 6: the camera held sideways; shown upright the image is 20 wide, 40 high.
    content = image_bytes("JPEG", size=(40, 20), exif_orientation=6)

    evidence = evidence_add(case=case, kind="screenshot", upload=upload(content, "phone.jpg"), from_customer=True)

    assert (evidence.width, evidence.height) == (20, 40)


def test_it_accepts_pasted_error_text_without_a_file(s0):
    case = open_case(s0)

    evidence = evidence_add(case=case, kind="error_message", text="  Error 403: line expired\x00 ",
                            from_customer=True)

    evidence.refresh_from_db()
    assert evidence.text == "Error 403: line expired"
    assert not evidence.file and evidence.size == 0 and evidence.sha256 == ""


def test_it_keeps_a_sanitised_original_name(s0):
    case = open_case(s0)

    evidence = evidence_add(case=case, kind="screenshot",
                            upload=upload(image_bytes(), "..\\..\\Users\\me\\shot\u202e\x07 1.png"),
                            from_customer=True)

    assert evidence.original_name == "shot 1.png"


# --- staff proof of service ---------------------------------------------------------------------


def test_it_lets_staff_attach_a_pdf_and_a_text_log_as_internal_proof(s0, agent, media):
    case = open_case(s0)

    pdf = evidence_add(case=case, kind="proof_of_service", upload=upload(PDF_BYTES, "report.pdf"), actor=agent)
    log = evidence_add(case=case, kind="proof_of_service", upload=upload(LOG_BYTES, "connections.log"), actor=agent)

    assert (pdf.content_type, pdf.width, pdf.height) == ("application/pdf", None, None)
    assert log.content_type == "text/plain" and log.file.name.endswith(".txt")
    assert log.sha256 == hashlib.sha256(LOG_BYTES).hexdigest()
    assert log.uploaded_by == agent and not log.from_customer
    events = list(case.events.filter(kind=CaseEvent.Kind.EVIDENCE))
    assert [e.visibility for e in events] == [CaseEvent.Visibility.INTERNAL] * 2
    assert [e.actor for e in events] == [agent, agent]
    assert len(stored_files(media)) == 2


def test_it_lets_staff_attach_an_image_as_proof(s0, agent):
    case = open_case(s0)

    evidence = evidence_add(case=case, kind="proof_of_service", upload=upload(image_bytes(), "panel.png"),
                            actor=agent)

    assert evidence.width == 64


# --- refusals: bad files ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("content", "name", "message"),
    [
        (b"MZ\x90\x00\x03" + b"\x00" * 200, "screenshot.png", "not accepted"),
        (b"<svg xmlns='http://www.w3.org/2000/svg'><script>alert(1)</script></svg>", "shot.svg", "not accepted"),
        (PDF_BYTES, "error.pdf", "not accepted"),
        (LOG_BYTES, "error.txt", "not accepted"),
    ],
    ids=["executable", "svg", "pdf-from-customer", "text-from-customer"],
)
def test_it_refuses_files_customers_may_not_send(s0, media, content, name, message):
    case = open_case(s0)

    error = assert_refused(media, case, Code.INVALID_INPUT, kind="error_message", upload=upload(content, name),
                           from_customer=True)

    assert message in error.message


def test_it_refuses_a_damaged_image(s0, media):
    case = open_case(s0)
    content = image_bytes("PNG", size=(200, 200), noise=True)

    error = assert_refused(media, case, Code.INVALID_INPUT, kind="screenshot",
                           upload=upload(content[: len(content) // 2]), from_customer=True)

    assert "damaged or incomplete" in error.message


@pytest.mark.parametrize(
    ("name", "content_type", "says"),
    [("photo.jpg", "", "image/jpeg"), ("screenshot", "image/gif", "image/gif"), ("page.html", "", "text/html")],
)
def test_it_refuses_an_image_that_claims_to_be_something_else(s0, media, name, content_type, says):
    case = open_case(s0)

    error = assert_refused(media, case, Code.INVALID_INPUT, kind="screenshot",
                           upload=upload(image_bytes("PNG"), name, content_type), from_customer=True)

    assert says in error.message and "a PNG image" in error.message


def test_it_refuses_a_decompression_bomb_without_decoding_it(s0, media):
    case = open_case(s0)
    out = BytesIO()
    Image.new("1", (12_000, 12_000)).save(out, format="PNG")  # 144 megapixels in a few kilobytes
    assert len(out.getvalue()) < 100_000

    error = assert_refused(media, case, Code.INVALID_INPUT, kind="screenshot",
                           upload=upload(out.getvalue()), from_customer=True)

    assert "too large" in error.message


def test_it_refuses_an_image_above_the_pixel_limit(s0, media, settings):
    settings.EVIDENCE_MAX_PIXELS = 5_000
    case = open_case(s0)

    error = assert_refused(media, case, Code.INVALID_INPUT, kind="screenshot",
                           upload=upload(image_bytes("GIF", size=(100, 100)), "anim.gif"), from_customer=True)

    assert "too large (100×100 pixels, more than the 5,000 accepted)" in error.message


def test_it_refuses_a_file_above_the_size_limit(s0, agent, media, settings):
    settings.EVIDENCE_MAX_BYTES = 2_000
    case = open_case(s0)
    big = SimpleUploadedFile("big.log", b"x" * 2_001)

    error = assert_refused(media, case, Code.INVALID_INPUT, kind="proof_of_service", upload=big,
                           actor=agent)

    assert "2,000 bytes limit" in error.message


def test_it_counts_the_bytes_that_arrive_not_the_size_the_client_declared(s0, agent, media, settings):
    settings.EVIDENCE_MAX_BYTES = 2_000
    case = open_case(s0)
    lying = SimpleUploadedFile("big.log", b"y" * 5_000)
    lying.size = 10

    assert_refused(media, case, Code.INVALID_INPUT, kind="proof_of_service", upload=lying,
                   actor=agent)


def test_it_refuses_an_empty_file_and_an_empty_submission(s0, media):
    case = open_case(s0)

    assert "empty" in assert_refused(media, case, Code.INVALID_INPUT, kind="screenshot", upload=upload(b""),
                                     from_customer=True).message
    assert "Attach a file" in assert_refused(media, case, Code.INVALID_INPUT, kind="error_message", text="   ",
                                             from_customer=True).message
    assert "needs an image" in assert_refused(media, case, Code.INVALID_INPUT, kind="screenshot",
                                              text="it shows an error", from_customer=True).message
    assert "Unknown evidence kind" in assert_refused(media, case, Code.INVALID_INPUT, kind="video",
                                                     text="x", from_customer=True).message


def test_it_refuses_a_binary_file_named_like_a_log(s0, agent, media):
    case = open_case(s0)

    assert_refused(media, case, Code.INVALID_INPUT, kind="proof_of_service",
                   upload=upload(b"\x00\x01\x02binary\xff\xfe", "server.log"), actor=agent)


def test_it_refuses_a_pdf_cut_short(s0, agent, media):
    case = open_case(s0)

    error = assert_refused(media, case, Code.INVALID_INPUT, kind="proof_of_service",
                           upload=upload(PDF_BYTES[:30], "report.pdf"), actor=agent)

    assert "incomplete" in error.message


# --- refusals: who and when ---------------------------------------------------------------------


def test_it_refuses_proof_of_service_from_a_customer(s0, media):
    case = open_case(s0)

    error = assert_refused(media, case, Code.INVALID_INPUT, kind="proof_of_service",
                           upload=upload(image_bytes()), from_customer=True)

    assert "proof of service is added by staff" in error.message


def test_it_refuses_staff_without_the_work_permission(s0, outsider, media):
    case = open_case(s0)

    assert_refused(media, case, Code.NO_PERMISSION, kind="proof_of_service", upload=upload(PDF_BYTES, "r.pdf"),
                   actor=outsider)
    assert_refused(media, case, Code.NO_PERMISSION, kind="screenshot", upload=upload(image_bytes()),
                   actor=outsider, from_customer=True)
    assert_refused(media, case, Code.NO_PERMISSION, kind="proof_of_service", upload=upload(PDF_BYTES, "r.pdf"))


@pytest.mark.parametrize("closing", ["withdraw", "deny"])
def test_it_refuses_evidence_on_a_closed_case(s0, agent, media, closing):
    case = open_case(s0)
    if closing == "withdraw":
        services.case_withdraw(case=case, actor=agent, now=later(case.requested_at, hours=1))
    else:
        services.case_deny(case=case, actor=agent, reason="other", note="Asked by the customer.",
                           now=later(case.requested_at, hours=1))

    error = assert_refused(media, fresh(case), Code.INVALID_INPUT, kind="screenshot", upload=upload(image_bytes()),
                           from_customer=True)

    assert "is closed" in error.message and case.number in error.message


# --- effect on the case -------------------------------------------------------------------------


def test_it_flags_a_case_awaiting_evidence_without_moving_it(s0, agent):
    case = open_case(s0)
    case = services.case_request_evidence(case=case, actor=agent, message="Send a screenshot.",
                                          now=later(case.requested_at, hours=1))

    evidence_add(case=case, kind="screenshot", upload=upload(image_bytes()), from_customer=True,
                 now=later(case.requested_at, hours=3))

    case = fresh(case)
    assert case.state == State.EVIDENCE_REQUESTED
    assert case.flagged and case.flag_reason == "Customer sent evidence"
    assert case.evidence_due_at is not None
    # The customer answered: the deadline sweep neither reminds them nor marks the case overdue.
    assert sweep_deadlines(now=later(case.evidence_due_at, days=30)).total == 0
    assert fresh(case).flag_reason == "Customer sent evidence"
    assert case.events.filter(kind=CaseEvent.Kind.REMINDER).count() == 0


def test_it_does_not_flag_for_staff_evidence_or_cases_not_waiting(s0, agent):
    waiting = services.case_request_evidence(case=open_case(s0), actor=agent, message="Send a screenshot.")
    reviewing = open_case(s0)

    evidence_add(case=waiting, kind="proof_of_service", upload=upload(LOG_BYTES, "c.log"), actor=agent)
    evidence_add(case=reviewing, kind="screenshot", upload=upload(image_bytes()), from_customer=True)

    assert not fresh(waiting).flagged
    assert not fresh(reviewing).flagged


def test_it_leaves_no_file_and_no_row_when_the_database_write_fails(s0, media):
    case = open_case(s0)
    _fail_event_inserts()

    with pytest.raises(DatabaseError):
        evidence_add(case=case, kind="screenshot", upload=upload(image_bytes()), from_customer=True)

    assert stored_files(media) == []
    assert not Evidence.objects.filter(case=case).exists()


# --- thumbnails ---------------------------------------------------------------------------------


def test_it_makes_a_small_jpeg_thumbnail_turned_upright(s0):
    case = open_case(s0)
    evidence = evidence_add(case=case, kind="screenshot", from_customer=True,
                            upload=upload(image_bytes("JPEG", size=(800, 400), exif_orientation=6), "p.jpg"))

    data = evidence_thumbnail(evidence)

    thumb = Image.open(BytesIO(data))
    assert thumb.format == "JPEG"
    assert thumb.size == (120, 240)


def test_it_keeps_transparency_in_a_png_thumbnail(s0):
    case = open_case(s0)
    out = BytesIO()
    Image.new("RGBA", (600, 300), (255, 0, 0, 128)).save(out, format="PNG")
    evidence = evidence_add(case=case, kind="screenshot", upload=upload(out.getvalue()), from_customer=True)

    thumb = Image.open(BytesIO(evidence_thumbnail(evidence)))

    assert thumb.format == "PNG" and thumb.mode == "RGBA"
    assert thumb.size == (240, 120)


def test_it_refuses_a_thumbnail_of_a_document(s0, agent):
    case = open_case(s0)
    evidence = evidence_add(case=case, kind="proof_of_service", upload=upload(PDF_BYTES, "r.pdf"), actor=agent)

    with pytest.raises(CaseActionError) as caught:
        evidence_thumbnail(evidence)

    assert caught.value.code == Code.INVALID_INPUT


# --- helpers ------------------------------------------------------------------------------------


def _fail_event_inserts() -> None:
    """A real database failure: a trigger rejects every case event insert (rolled back with the test)."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                "CREATE FUNCTION test_reject_event() RETURNS trigger AS $$ "
                "BEGIN RAISE EXCEPTION 'event log unavailable'; END; $$ LANGUAGE plpgsql"
            )
            cursor.execute(
                "CREATE TRIGGER test_reject_event BEFORE INSERT ON cases_caseevent "
                "FOR EACH ROW EXECUTE FUNCTION test_reject_event()"
            )
        else:
            cursor.execute(
                "CREATE TRIGGER test_reject_event BEFORE INSERT ON cases_caseevent "
                "BEGIN SELECT RAISE(ABORT, 'event log unavailable'); END"
            )
