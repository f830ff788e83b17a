"""The pages staff and customers read most, at a laptop's 1366 px and a phone's 375 px.

At 1366 px the case list and the orders list keep their filters beside every column, e-mail
addresses wrap only before their "@", and the dashboard uses the page's width. At 375 px no page
scrolls sideways. Thumbnails show the whole screenshot.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.browser.staff import sign_in
from tests.browser.test_case_page import CHROMIUM, page  # noqa: F401 (the launch fixture)
from tests.conftest import make_user

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium at /usr/bin/chromium"),
]
SHOTS = Path("/tmp/shots-layout")
EMAILS = ("quentin.dubois@example.com", "bilal.chaudhry@example.com", "rosa.jimenez@example.com")

# Each text piece of each customer e-mail in the list sits on one line: a line break may fall only
# between the pieces (before the "@"), never inside a word.
EMAIL_PIECES_ON_ONE_LINE = """(selector) => Array.from(document.querySelectorAll(selector)).flatMap(cell =>
  Array.from(cell.childNodes).filter(n => n.nodeType === Node.TEXT_NODE && n.textContent.trim()).map(n => {
    const range = document.createRange(); range.selectNodeContents(n);
    const tops = new Set(Array.from(range.getClientRects()).map(r => Math.round(r.top)));
    return [n.textContent, tops.size];
  }))"""
SIDE_BY_SIDE = """() => { const list = document.querySelector('#changelist .changelist-form-container');
  const filters = document.querySelector('#changelist-filter');
  const results = document.querySelector('#changelist .results');
  const a = list.getBoundingClientRect(), b = filters.getBoundingClientRect();
  return {beside: b.left >= a.right - 1 && b.top < a.bottom, fits: results.scrollWidth <= results.clientWidth}; }"""
WHOLE_THUMBNAILS = """(selector) => Array.from(document.querySelectorAll(selector)).map(img => {
  const box = img.getBoundingClientRect();
  return [img.naturalWidth / img.naturalHeight, box.width / box.height]; })"""


def tall_screenshot() -> bytes:
    from io import BytesIO

    from PIL import Image

    image = Image.new("RGB", (1170, 2532), (255, 255, 255))
    image.paste((200, 0, 0), (0, 0, 1170, 120))
    out = BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def wait_for_thumbnails(page, selector: str) -> None:  # noqa: F811
    for image in page.locator(selector).all():
        image.scroll_into_view_if_needed()  # previews load lazily
    page.wait_for_function(
        "(s) => Array.from(document.querySelectorAll(s)).every(i => i.complete && i.naturalWidth > 0)", arg=selector
    )


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_it_lays_out_the_lists_dashboard_and_case_pages_at_1366_and_375_px(live_server, page, settings, tmp_path):  # noqa: F811
    from django.core.files.uploadedfile import SimpleUploadedFile
    from django.utils import timezone

    from cases.customer_links import CaseLink, issue_link
    from cases.evidence import evidence_add
    from orders.models import Storefront
    from tests.admin.conftest import open_case

    settings.MEDIA_ROOT = tmp_path / "media"
    SHOTS.mkdir(exist_ok=True)
    manager = make_user("maria", "Support manager")
    storefronts = list(Storefront.objects.order_by("slug"))
    cases = [
        open_case(storefronts[i % 2], reason="other", order_kwargs={"email": email}, description="It stopped working.")
        for i, email in enumerate(EMAILS)
    ]
    case = cases[0]
    evidence_add(case=case, kind="screenshot", from_customer=True,
                 upload=SimpleUploadedFile("phone.png", tall_screenshot(), content_type=""))
    secret = issue_link(case=case, why=CaseLink.Why.OPENED, now=timezone.now())

    page.set_viewport_size({"width": 1366, "height": 900})
    sign_in(page, live_server.url, manager, "/admin/")
    page.wait_for_selector("#dashboard")

    pages = {
        "case-list": "/admin/cases/refundcase/",
        "orders-list": "/admin/orders/order/",
        "dashboard": "/admin/",
        "case-page": f"/admin/cases/refundcase/{case.pk}/change/",
        "portal-case": f"/portal/c/{secret}/",
    }
    for width in (1366, 375):
        page.set_viewport_size({"width": width, "height": 900})
        for name, url in pages.items():
            page.goto(live_server.url + url)
            page.screenshot(path=str(SHOTS / f"{name}-{width}.png"), full_page=True)
            wide = page.evaluate("document.documentElement.scrollWidth")
            assert wide <= width, f"{name} is {wide} px wide at {width} px"

    page.set_viewport_size({"width": 1366, "height": 900})
    for url in (pages["case-list"], pages["orders-list"]):
        page.goto(live_server.url + url)
        assert page.evaluate(SIDE_BY_SIDE) == {"beside": True, "fits": True}, url
    page.goto(live_server.url + pages["case-list"])
    pieces = page.evaluate(EMAIL_PIECES_ON_ONE_LINE, "#result_list .field-order_number .rb-quiet")
    assert len(pieces) == 2 * len(EMAILS)
    assert all(lines == 1 for _, lines in pieces), pieces
    page.goto(live_server.url + pages["orders-list"])
    pieces = page.evaluate(EMAIL_PIECES_ON_ONE_LINE, "#result_list .field-customer_column .rb-order-email")
    assert pieces and all(lines == 1 for _, lines in pieces), pieces

    # The dashboard is not held to the admin's 600 px index column.
    page.goto(live_server.url + pages["dashboard"])
    assert page.evaluate("document.querySelector('#dashboard').getBoundingClientRect().width") > 900

    # Thumbnails have the screenshot's shape: scaled into their box, nothing cut off.
    for width, url, selector in ((1366, pages["case-page"], "#evidence img.rb-thumb"),
                                 (375, pages["portal-case"], "img.thumb")):
        page.set_viewport_size({"width": width, "height": 900})
        page.goto(live_server.url + url)
        wait_for_thumbnails(page, selector)
        shapes = page.evaluate(WHOLE_THUMBNAILS, selector)
        assert shapes, url
        for natural, shown in shapes:
            assert abs(shown - natural) < 0.03, (url, natural, shown)
