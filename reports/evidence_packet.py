"""The evidence packet: one PDF a manager sends the bank for a chargeback, from what we already know.

In it, in this order (docs/disputes.md): the dispute; the order and its delivery, with the refunds
already paid; the refund policy version in force at purchase with the clauses that decided the
order's cases (this storefront's clauses and the house rules, rendered from that version's rules);
for each case, what the customer asked, its timeline and messages in the very words the customer's
case page shows them, the e-mails we sent, and the evidence (the customer's screenshots and pasted
text, our proof of service) with every image embedded; last, the policy's whole text.

Never in it: an internal note or event, a staff member's name, the customer's secret links (the
e-mails are listed by subject only), or another storefront's clause.

Written with fpdf2 in a Unicode TrueType font (DejaVu Sans, Debian's fonts-dejavu-core) so that
"Zoë Ødegård" and "€" print; without that font on the machine the packet still comes out, in a
built-in font with the few characters it lacks spelled out ("EUR"). Images are read one at a
time, scaled down to what a printed page shows and embedded as JPEG, so a packet of fifty
screenshots stays a few megabytes, and within a few tens of megabytes of memory.
"""

from __future__ import annotations

import logging
import unicodedata
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from io import BytesIO
from pathlib import Path

from django.conf import settings
from django.utils import timezone
from django.utils.formats import date_format
from fpdf import FPDF
from fpdf.enums import XPos, YPos
from fpdf.fonts import FontFace
from PIL import Image, UnidentifiedImageError

from cases.customer_timeline import timeline_entry
from cases.customer_words import HOUSE_CLAUSE_WORDS, SILENT_CLAUSES, plain, reason_words, state_words
from cases.models import Evidence, OutboxMessage, RefundCase
from cases.states import State
from orders.models import Chargeback, Order
from policies.models import PolicyVersion
from policies.selectors import NoPolicy, clause_texts, policy_version_for
from policies.words import clause_text, own_clauses
from rules.engine import PAYMENT_METHOD_LABELS, Policy

logger = logging.getLogger(__name__)

# Where Debian (fonts-dejavu-core) and other systems keep DejaVu; settings.EVIDENCE_PACKET_FONT_DIR first.
FONT_DIRS = ("/usr/share/fonts/truetype/dejavu", "/usr/share/fonts/dejavu", "/usr/share/fonts/TTF",
             "/usr/local/share/fonts/dejavu", "/usr/local/share/fonts")
FONT_FILES = {"": "DejaVuSans.ttf", "B": "DejaVuSans-Bold.ttf"}
FAMILY = "DejaVu"
FALLBACK_FAMILY = "helvetica"

# A4 with 18 mm margins: 174 mm of text width.
MARGIN = 18.0
IMAGE_MAX_HEIGHT = 190.0  # mm: a phone screenshot fills most of a page, with its caption
IMAGE_DPI = 150  # an image is never printed larger than this many pixels per inch
# Pixels kept of the longer side: 200 dpi across the text's width, or down a page; more is not
# read by anyone, and processors cap the evidence they take at a few megabytes in all.
IMAGE_MAX_SIDE = 1400
JPEG_QUALITY = 80
# A stored JPEG this compact (bytes per pixel) and no larger than IMAGE_MAX_SIDE goes in as it is.
JPEG_KEPT_BYTES_PER_PIXEL = 0.3

# What the built-in fonts cannot print (they hold Latin-1 only), spelled out.
SPELLED = {"€": "EUR", "“": '"', "”": '"', "„": '"', "‘": "'", "’": "'", "–": "-", "—": "-", "…": "...",
           "→": "->", "←": "<-", "•": "-", "−": "-", "\u00a0": " ", "\u202f": " ", "✓": "(tick)", "×": "x"}


@dataclass(frozen=True)
class Line:
    label: str
    value: str


@dataclass(frozen=True)
class ClauseText:
    clause_id: str
    text: str


@dataclass(frozen=True)
class Entry:
    when: datetime
    title: str
    text: str


@dataclass(frozen=True)
class Exhibit:
    evidence: Evidence
    caption: str
    text: str  # pasted text; an image or file is read from ``evidence`` when the page is drawn


@dataclass
class CasePart:
    title: str
    facts: list[Line]
    description: str
    told: str  # why the request was declined, as the customer was told
    timeline: list[Entry]
    exhibits: list[Exhibit]


@dataclass
class Packet:
    title: str
    storefront: str
    prepared_at: datetime
    dispute: list[Line]
    order: list[Line]
    delivery: list[Line]
    refunds: list[Line]
    policy_heading: str
    clauses: list[ClauseText]
    cases: list[CasePart]
    policy_text: str
    chargebacks: list[Line] = field(default_factory=list)


# --- what goes in ---------------------------------------------------------------------------------


def when(moment: datetime | None) -> str:
    """One moment as staff pages write it, with its time zone: a bank reads it far from us."""
    if moment is None:
        return "—"
    local = timezone.localtime(moment)
    return f"{date_format(local, 'DATETIME_FORMAT')} {local:%Z}"


def money(amount: Decimal, currency: str) -> str:
    return f"{amount:.2f} {currency}"


def gather(chargeback: Chargeback, *, now: datetime | None = None) -> Packet:
    """Everything the packet says about ``chargeback``, read from the database (images are read later)."""
    now = now or timezone.now()
    order = Order.objects.select_related("storefront", "customer", "plan").get(pk=chargeback.order_id)
    cases = list(RefundCase.objects.filter(order=order).order_by("requested_at", "pk"))
    try:
        version: PolicyVersion | None = policy_version_for(storefront_id=order.storefront_id,
                                                           purchased_at=order.purchased_at)
    except NoPolicy:
        version = None
    policy = version.to_policy() if version is not None else None
    subject = f"dispute {chargeback.dispute_id}" if chargeback.dispute_id else "chargeback"
    return Packet(
        title=f"Evidence for the {subject} on order #{order.number}",
        storefront=f"{order.storefront.name} <{order.storefront.support_email}>",
        prepared_at=now,
        dispute=_dispute_lines(chargeback, order, cases),
        chargebacks=_other_chargebacks(chargeback, order),
        order=_order_lines(order),
        delivery=_delivery_lines(order),
        refunds=[Line(when(p.paid_at), f"{money(p.amount, p.currency)} refunded by {p.method_words}, "
                                       f"reference {p.reference}")
                 for p in order.payouts.order_by("paid_at", "pk")],
        policy_heading=(f"{order.storefront.name} refund policy, version {version.version}, in force from "
                        f"{date_format(timezone.localtime(version.effective_from))}: the version that applies "
                        f"to a purchase made {when(order.purchased_at)}." if version is not None else
                        f"{order.storefront.name} has no refund policy on record."),
        clauses=_clauses(chargeback, cases, policy, storefront_id=order.storefront_id) if policy is not None else [],
        cases=[_case_part(case) for case in cases],
        policy_text=plain(version.rendered_text()) if version is not None else "",
    )


def _dispute_lines(chargeback: Chargeback, order: Order, cases: list[RefundCase]) -> list[Line]:
    lines = []
    if chargeback.dispute_id:
        lines += [Line("Dispute", chargeback.dispute_id), Line("Reason given by the bank", chargeback.reason_words)]
    elif chargeback.processor_reference:
        lines.append(Line("Processor reference", chargeback.processor_reference))
    lines += [Line("Amount disputed", money(chargeback.amount, order.currency)),
              Line("Opened", when(chargeback.opened_at))]
    if chargeback.evidence_due_by:
        lines.append(Line("Evidence due", when(chargeback.evidence_due_by)))
    if chargeback.status:
        closed = f", {when(chargeback.closed_at)}" if chargeback.closed_at else ""
        lines.append(Line("Status", f"{chargeback.get_status_display()}{closed}"))
    earlier = [case for case in cases if case.requested_at <= chargeback.opened_at]
    if earlier:
        contact = f"Yes: refund request {earlier[0].number}, {when(earlier[0].requested_at)}"
    elif cases:
        contact = f"No. The customer first wrote to us {when(cases[0].requested_at)}, after the dispute was opened"
    else:
        contact = "No. The customer never asked us for a refund or wrote to support about this order"
    lines.append(Line("The customer contacted us before the dispute", contact))
    return lines


def _other_chargebacks(chargeback: Chargeback, order: Order) -> list[Line]:
    return [Line(when(other.opened_at), f"{money(other.amount, order.currency)}"
                 + (f", dispute {other.dispute_id}" if other.dispute_id else ""))
            for other in order.chargebacks.exclude(pk=chargeback.pk).order_by("opened_at", "pk")]


def _order_lines(order: Order) -> list[Line]:
    customer, plan = order.customer, order.plan
    devices = f"{plan.devices} device{'s' if plan.devices != 1 else ''}"
    lines = [
        Line("Order", f"#{order.number}"),
        Line("Purchased", when(order.purchased_at)),
        Line("Amount paid", money(order.amount, order.currency)),
        Line("Payment method", PAYMENT_METHOD_LABELS.get(order.payment_method, "Other")),
    ]
    if order.processor_reference:
        lines.append(Line("Payment reference", order.processor_reference))
    lines += [
        Line("Customer", f"{customer.name} <{customer.email}>" if customer.name else customer.email),
        Line("Plan", f"{plan.name} ({plan.months} month{'s' if plan.months != 1 else ''}, {devices}), "
                     f"{money(plan.price, plan.currency)}"),
    ]
    return lines


def _delivery_lines(order: Order) -> list[Line]:
    subscription = getattr(order, "subscription", None)  # None when the order has none
    if subscription is None:
        return [Line("Delivered", "No subscription is recorded for this order")]
    if subscription.delivered_at is None:
        return [Line("Delivered", "Not delivered")]
    lines = [Line("Access details created and sent", when(subscription.delivered_at)),
             Line("Subscription runs until", when(subscription.period_end))]
    for extension in subscription.extensions.order_by("created_at", "pk"):
        lines.append(Line("Days added", f"{extension.total_days} days on {when(extension.created_at)} "
                                        f"(service interruption of {extension.lost_days} days, "
                                        f"{extension.bonus_days} days' bonus)"))
    lines.append(Line("Subscription now", subscription.get_status_display()))
    return lines


def _case_clause_ids(case: RefundCase) -> list[str]:
    ids = list((case.decision or {}).get("clauses") or [])
    for data in case.events.exclude(transition="").values_list("data", flat=True):
        ids += (data or {}).get("clauses") or []
    return ids


def _clauses(chargeback: Chargeback, cases: list[RefundCase], policy: Policy, *, storefront_id: int) -> list[ClauseText]:
    """The clauses that decided the cases, and S1-CHARGEBACK when it sanctioned this chargeback."""
    ids = [clause_id for case in cases for clause_id in _case_clause_ids(case)]
    if chargeback.sanction_applied:
        ids.append(policy.clause("CHARGEBACK"))
    ids = [c for c in own_clauses(ids, policy) if c not in SILENT_CLAUSES]
    texts = clause_texts([c for c in ids if c not in HOUSE_CLAUSE_WORDS])
    found = []
    for clause_id in ids:
        if clause_id in HOUSE_CLAUSE_WORDS:
            found.append(ClauseText("House rule", str(HOUSE_CLAUSE_WORDS[clause_id])))
        elif clause_id in texts and texts[clause_id].storefront_id == storefront_id:
            words = plain(clause_text(texts[clause_id].summary, policy))
            if words:
                found.append(ClauseText(clause_id, words))
    return found


def _case_part(case: RefundCase) -> CasePart:
    facts = [Line("Requested", when(case.requested_at)),
             Line("How", case.get_channel_display()),
             Line("Reason the customer gave", reason_words(case.reason)),
             Line("Where it stands", state_words(case))]
    if case.approved_amount is not None and case.approval_cancelled_at is None:
        facts.append(Line("Refund approved", money(case.approved_amount, case.currency)))
    entries = []
    for event in case.events.order_by("created_at", "id"):
        entry = timeline_entry(event)
        if entry is not None:
            entries.append(Entry(entry.when, entry.title, entry.text))
    sent = OutboxMessage.objects.filter(case=case, status=OutboxMessage.Status.SENT).order_by("sent_at", "pk")
    # By subject only: an e-mail's body carries the customer's secret link to their case page.
    entries += [Entry(mail.sent_at, "E-mail sent to the customer", f"“{mail.subject}”") for mail in sent]
    entries.sort(key=lambda entry: entry.when)
    return CasePart(
        title=f"Refund request {case.number}",
        facts=facts,
        description=case.description.strip(),
        told=_declined_because(case),
        timeline=entries,
        exhibits=[_exhibit(item) for item in case.evidence.order_by("created_at", "id")],
    )


def _declined_because(case: RefundCase) -> str:
    """The refusal's words as the customer got them: the note sent with it, else the policy's explanation."""
    if case.state != State.DENIED:
        return ""
    event = case.events.filter(transition="deny").order_by("-created_at", "-id").first()
    return ((event.comment if event else "") or (case.decision or {}).get("explanation", "")).strip()


EXHIBIT_WORDS = {
    Evidence.Kind.SCREENSHOT: "Screenshot",
    Evidence.Kind.ERROR_MESSAGE: "Error message",
    Evidence.Kind.PROOF_OF_SERVICE: "Proof of service",
}


def _exhibit(item: Evidence) -> Exhibit:
    who = "sent by the customer" if item.from_customer else "from our team"
    name = f" ({item.original_name})" if item.original_name else ""
    caption = f"{EXHIBIT_WORDS.get(item.kind, 'Evidence')} {who}, {when(item.created_at)}{name}"
    return Exhibit(item, caption, item.text.strip())


def filename(chargeback: Chargeback) -> str:
    reference = chargeback.dispute_id or f"chargeback-{chargeback.pk}"
    safe = "".join(c if c.isalnum() or c in "-_" else "-" for c in f"{chargeback.order.number}-{reference}")
    return f"evidence-{safe}.pdf"


# --- the PDF --------------------------------------------------------------------------------------


def font_paths() -> dict[str, Path] | None:
    """DejaVu Sans (regular and bold) where this machine has it, or None.

    ``settings.EVIDENCE_PACKET_FONT_DIR``, when set, is the only folder looked in.
    """
    chosen = getattr(settings, "EVIDENCE_PACKET_FONT_DIR", None)
    for folder in [chosen] if chosen else FONT_DIRS:
        paths = {style: Path(folder) / name for style, name in FONT_FILES.items()}
        if all(path.is_file() for path in paths.values()):
            return paths
    return None


def latin1(text: str) -> str:
    """``text`` as the built-in fonts can print it: accents kept where Latin-1 has them."""
    out = []
    for char in text:
        char = SPELLED.get(char, char)
        if len(char) == 1 and ord(char) > 255:
            char = "".join(c for c in unicodedata.normalize("NFKD", char) if ord(c) <= 255) or "?"
        out.append(char)
    return "".join(out)


def leading(size: float) -> float:
    """The height of a line of text of ``size`` points, in mm."""
    return size * 0.5


class PacketPDF(FPDF):
    def __init__(self, *, heading: str, fonts: dict[str, Path] | None) -> None:
        super().__init__(orientation="P", unit="mm", format="A4")
        self.heading = heading
        self.unicode = fonts is not None
        if fonts is not None:
            for style, path in fonts.items():
                self.add_font(FAMILY, style, str(path))
        self.family = FAMILY if self.unicode else FALLBACK_FAMILY
        self.set_margins(MARGIN, MARGIN, MARGIN)
        self.set_auto_page_break(auto=True, margin=MARGIN)
        self.set_creator("Refund back office")

    def normalize_text(self, text: str) -> str:
        return super().normalize_text(text if self.unicode else latin1(text))

    def header(self) -> None:
        self.set_font(self.family, "", 8)
        self.set_text_color(110)
        self.cell(0, 5, self.heading, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        self.ln(3)
        self.set_text_color(0)

    def footer(self) -> None:
        self.set_y(-12)
        self.set_font(self.family, "", 8)
        self.set_text_color(110)
        self.cell(0, 5, f"Page {self.page_no()} of {{nb}}", align="R")
        self.set_text_color(0)

    # -- blocks --

    def title_block(self, title: str, lines: list[str]) -> None:
        self.set_font(self.family, "B", 16)
        self.multi_cell(0, 8, title, align="L", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        self.set_font(self.family, "", 9)
        for line in lines:
            self.multi_cell(0, 5, line, align="L", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        self.ln(3)

    def section(self, title: str) -> None:
        if self.get_y() > self.h - MARGIN - 30:  # a heading never ends a page alone
            self.add_page()
        self.ln(2)
        self.set_font(self.family, "B", 12)
        self.multi_cell(0, 7, title, align="L", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        self.set_draw_color(180)
        self.line(self.l_margin, self.get_y(), self.w - self.r_margin, self.get_y())
        self.ln(2)

    def subsection(self, title: str, *, keep: float = 25) -> None:
        """A heading with at least ``keep`` mm of what it heads below it on the same page."""
        if self.get_y() + self.height_of(title, size=10) + keep > self.h - MARGIN:
            self.add_page()
        self.ln(1)
        self.set_font(self.family, "B", 10)
        self.multi_cell(0, 5.5, title, align="L", new_x=XPos.LMARGIN, new_y=YPos.NEXT)

    def height_of(self, text: str, *, size: float) -> float:
        """How tall ``text`` is as a paragraph of the text's width, in mm."""
        self.set_font(self.family, "", size)
        lines = self.multi_cell(0, leading(size), text, dry_run=True, output="LINES")
        return len(lines) * leading(size) + 2

    def paragraph(self, text: str, *, size: float = 9.5, quiet: bool = False) -> None:
        self.set_font(self.family, "", size)
        if quiet:
            self.set_text_color(90)
        self.multi_cell(0, leading(size), text, align="L", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        self.set_text_color(0)
        self.ln(1.5)

    def facts(self, lines: list[Line], *, label_width: float = 58) -> None:
        if not lines:
            return
        self.set_font(self.family, "", 9.5)
        width = self.w - self.l_margin - self.r_margin
        with self.table(col_widths=(label_width, width - label_width), width=width, first_row_as_headings=False,
                        borders_layout="NONE", text_align="LEFT", line_height=5, padding=(0.8, 1, 0.8, 0),
                        v_align="TOP") as table:
            for line in lines:
                row = table.row()
                row.cell(line.label, style=FontFace(emphasis="BOLD"))
                row.cell(line.value)
        self.ln(2)

    def timeline(self, entries: list[Entry]) -> None:
        self.set_font(self.family, "", 9)
        width = self.w - self.l_margin - self.r_margin
        with self.table(col_widths=(40, width - 40), width=width, borders_layout="HORIZONTAL_LINES",
                        text_align="LEFT", line_height=4.6, padding=(1.2, 1, 1.2, 0), v_align="TOP",
                        headings_style=FontFace(emphasis="BOLD")) as table:
            heading = table.row()
            heading.cell("When")
            heading.cell("What the customer's case page shows")
            for entry in entries:
                row = table.row()
                row.cell(when(entry.when))
                row.cell(f"{entry.title}\n{entry.text}" if entry.text else entry.title)
        self.ln(2)

    def exhibit(self, item: Exhibit, *, heading: str = "") -> None:
        """One piece of evidence: its caption, its text and its image on one page, with ``heading``
        (the evidence's, above the first piece) on that page too."""
        evidence = item.evidence
        picture = None
        if evidence.file and evidence.is_image:
            try:
                picture = page_image(evidence)
            except (OSError, ValueError, UnidentifiedImageError):
                picture = None
        w, h = self.picture_size(evidence, picture) if picture is not None else (0.0, 0.0)
        below = (self.height_of(item.text, size=9) if item.text else 0) + h + 4
        if heading:
            self.subsection(heading, keep=min(self.height_of(item.caption, size=10) + below, self.h - 2 * MARGIN - 50))
        self.subsection(item.caption, keep=min(below, self.h - 2 * MARGIN - 40))
        if item.text:
            self.paragraph(item.text, size=9)
        if not evidence.file:
            return
        if picture is not None:
            if self.get_y() + h > self.h - MARGIN:
                self.add_page()
            self.image(picture[0], x=self.l_margin, y=self.get_y(), w=w, h=h, alt_text=evidence.original_name or None)
            self.set_y(self.get_y() + h + 4)
        elif evidence.is_image:
            self.paragraph("The image could not be read from storage.", quiet=True)
        else:
            size = f"{evidence.size / 1024:.0f} KB" if evidence.size >= 1024 else f"{evidence.size} bytes"
            kind = {"application/pdf": "PDF document", "text/plain": "text file"}.get(evidence.content_type, "file")
            self.paragraph(f"A {kind} of {size}, not reproduced here: send it with this packet.", quiet=True)

    def picture_size(self, evidence: Evidence, picture: tuple) -> tuple[float, float]:
        """The stored image's size at IMAGE_DPI, shrunk to the text's width and IMAGE_MAX_HEIGHT (mm)."""
        natural_w = (evidence.width or picture[1]) * 25.4 / IMAGE_DPI
        natural_h = (evidence.height or picture[2]) * 25.4 / IMAGE_DPI
        scale = min(1.0, (self.w - self.l_margin - self.r_margin) / natural_w, IMAGE_MAX_HEIGHT / natural_h)
        return natural_w * scale, natural_h * scale


def page_image(evidence: Evidence) -> tuple[BytesIO, int, int]:
    """The stored image as the page shows it, as JPEG bytes: the stored JPEG when it is compact and no
    larger than ``IMAGE_MAX_SIDE``, else scaled down to that and re-encoded (a screenshot too: at
    200 dpi its text reads as well, in half the bytes of a lossless copy). Only this image is in memory."""
    with evidence.file.open("rb") as handle:
        data = handle.read()
    with Image.open(BytesIO(data)) as opened:
        width, height = opened.size
        if (opened.format == "JPEG" and opened.mode in ("RGB", "L") and max(width, height) <= IMAGE_MAX_SIDE
                and len(data) <= JPEG_KEPT_BYTES_PER_PIXEL * width * height):
            return BytesIO(data), width, height
        opened.draft("RGB", (IMAGE_MAX_SIDE, IMAGE_MAX_SIDE))  # a large JPEG is decoded at a fraction of its size
        image = opened.convert("RGBA") if opened.mode in ("P", "PA", "LA") else opened.copy()
    del data
    if image.mode == "RGBA":  # transparent parts printed on white, as a viewer shows them
        flat = Image.new("RGB", image.size, "white")
        flat.paste(image, mask=image.getchannel("A"))
        image = flat
    elif image.mode not in ("RGB", "L"):
        image = image.convert("RGB")
    image.thumbnail((IMAGE_MAX_SIDE, IMAGE_MAX_SIDE), Image.Resampling.LANCZOS)
    out = BytesIO()
    image.save(out, format="JPEG", quality=JPEG_QUALITY)
    out.seek(0)
    return out, *image.size


def render(packet: Packet) -> bytearray:
    fonts = font_paths()
    if fonts is None:
        logger.warning("DejaVu Sans was not found (fonts-dejavu-core): the evidence packet is written in a "
                       "built-in font, with characters outside Latin-1 spelled out.")
    pdf = PacketPDF(heading=packet.title, fonts=fonts)
    pdf.set_title(packet.title)
    pdf.set_subject(f"Evidence for the bank, prepared {when(packet.prepared_at)}")
    pdf.add_page()
    pdf.title_block(packet.title, [packet.storefront, f"Prepared {when(packet.prepared_at)} from the records "
                                                      "of our refund back office."])
    pdf.section("The dispute")
    pdf.facts(packet.dispute)
    if packet.chargebacks:
        pdf.subsection("Other chargebacks on this order")
        pdf.facts(packet.chargebacks)
    pdf.section("The order")
    pdf.facts(packet.order)
    pdf.subsection("Delivery")
    pdf.facts(packet.delivery)
    pdf.subsection("Refunds already paid")
    if packet.refunds:
        pdf.facts(packet.refunds)
    else:
        pdf.paragraph("None.")
    pdf.section("The refund policy the customer agreed to")
    pdf.paragraph(packet.policy_heading)
    if packet.clauses:
        pdf.subsection("The clauses that decided this order")
        pdf.facts([Line(clause.clause_id, clause.text) for clause in packet.clauses], label_width=36)
    elif packet.policy_text:
        pdf.paragraph("No clause of the policy was applied to this order. Its whole text follows at the end.",
                      quiet=True)
    if not packet.cases:
        pdf.section("Contact with the customer")
        pdf.paragraph("The customer never asked us for a refund about this order.")
    for part in packet.cases:
        pdf.section(part.title)
        pdf.facts(part.facts)
        if part.description and not any(entry.text == part.description for entry in part.timeline):
            pdf.subsection("The request, in the customer's words", keep=12)
            pdf.paragraph(part.description)
        if part.told:
            pdf.subsection("Why it was declined, as the customer was told", keep=12)
            pdf.paragraph(part.told)
        pdf.subsection("Timeline and messages, as the customer's case page shows them")
        pdf.timeline(part.timeline)
        for n, item in enumerate(part.exhibits):
            pdf.exhibit(item, heading="" if n else f"Evidence ({len(part.exhibits)})")
    if packet.policy_text:
        pdf.add_page()
        pdf.section("The refund policy, whole text of the version in force at purchase")
        for text in filter(None, (line.strip() for line in packet.policy_text.splitlines())):
            pdf.paragraph(text, size=9)
    # The buffer itself, not a copy: the images it holds are the packet's size over again.
    return pdf.output()


def evidence_packet(chargeback: Chargeback, *, now: datetime | None = None) -> bytearray:
    """The PDF for ``chargeback``: everything ``gather`` finds, laid out by ``render``."""
    return render(gather(chargeback, now=now))


def chunks(data: bytearray, size: int = 256 * 1024):
    """``data`` in pieces for a streaming response, without copying it whole."""
    view = memoryview(data)
    for start in range(0, len(view), size):
        yield bytes(view[start:start + size])

