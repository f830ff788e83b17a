"""One way to time a page for every bench: a warm-up, timed requests, then one with the queries caught."""

from __future__ import annotations

import statistics
import time

from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext


def time_get(client: Client, url: str, *, repeats: int, expect: str | None = None) -> dict:
    """Median and min server time of ``repeats`` GETs after a warm-up, with the queries of one more.

    ``found`` says whether ``expect`` is on the page (None when nothing is expected). A page that
    breaks or answers other than 200 is reported in the result, not raised: one broken view must
    not hide the figures of the others.
    """
    try:
        response = client.get(url)  # warm-up: templates, caches, the database's pages
    except Exception as error:  # noqa: BLE001 - reported, not fatal
        return {"url": url, "error": f"{type(error).__name__}: {error}"}
    if response.status_code != 200:
        return {"url": url, "status": response.status_code}
    timings = []
    for _ in range(repeats):
        started = time.perf_counter()
        response = client.get(url)
        timings.append(time.perf_counter() - started)
    with CaptureQueriesContext(connection) as queries:
        client.get(url)
    content = response.content.decode()
    captured = queries.captured_queries
    return {
        "url": url,
        "status": 200,
        "seconds": round(statistics.median(timings), 4),
        "median_ms": round(statistics.median(timings) * 1000, 1),
        "min_ms": round(min(timings) * 1000, 1),
        "queries": len(captured),
        "sql_ms": round(sum(float(q["time"]) for q in captured) * 1000, 1),
        "slowest_query_sql": max(captured, key=lambda q: float(q["time"]))["sql"][:400] if captured else None,
        "found": None if expect is None else expect in content,
        "bytes": len(content),
    }
