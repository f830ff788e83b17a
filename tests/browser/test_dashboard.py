"""A manager's admin index draws the dashboard's charts from the numbers beside them, under the CSP."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from tests.browser.staff import sign_in
from tests.browser.test_case_page import CHROMIUM, page  # noqa: F401 (the browser fixture)
from tests.conftest import make_user

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium at /usr/bin/chromium"),
]


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_it_draws_the_dashboard_charts(live_server, page):  # noqa: F811
    from django.utils import timezone

    from cases.states import State
    from orders.models import Storefront
    from tests.dashboard.conftest import stored_case

    manager = make_user("maria", "Support manager")
    s0 = Storefront.objects.get(slug="iptv-smarters-pro")
    now = timezone.now()
    for hours in (2, 30, 50):
        stored_case(s0, state=State.REQUESTED, requested_at=now - timedelta(hours=hours))
    problems: list[str] = []
    # The admin has no favicon; any other failed load, script error or CSP refusal is a problem.
    page.on("console", lambda message: problems.append(message.text)
            if message.type == "error" and "Failed to load resource" not in message.text else None)
    page.on("response", lambda response: problems.append(f"{response.status} {response.url}")
            if response.status >= 400 and not response.url.endswith("/favicon.ico") else None)
    page.on("pageerror", lambda error: problems.append(str(error)))

    sign_in(page, live_server.url, manager, "/admin/")
    page.wait_for_selector("#dashboard")
    for width in (1280, 375):
        page.set_viewport_size({"width": width, "height": 900})
        page.reload()
        page.wait_for_function("document.querySelectorAll('canvas[data-drawn=yes]').length === 4")
        shots = Path("/tmp/shots-dashboard-test")
        shots.mkdir(exist_ok=True)
        page.screenshot(path=str(shots / f"dashboard-{width}.png"), full_page=True)
        sizes = page.evaluate("Array.from(document.querySelectorAll('canvas[data-chart]')).map(c => c.width * c.height)")
        assert all(size > 0 for size in sizes)
        main = page.evaluate("() => document.querySelector('#dashboard').scrollWidth")
        assert main <= width
    # The chart shows the numbers of the table: three requested cases on this storefront.
    drawn = page.evaluate("Chart.getChart(document.querySelector('canvas[data-chart=open]')).data.datasets"
                          ".map(d => [d.label, d.data])")
    assert ["IPTV Smarters Pro", [3, 0, 0, 0]] in drawn
    cell = page.locator("#dash-open tbody tr", has_text="IPTV Smarters Pro").locator("td a").first
    assert cell.inner_text() == "3"
    cell.click()
    page.wait_for_selector("#result_list")
    assert page.locator("#result_list tbody tr").count() == 3
    assert problems == []  # no CSP refusal, no script error
