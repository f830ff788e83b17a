"""The CSV export of every case against PostgreSQL's own COPY of the same joined columns, for ``make bench-pg``.

Each measurement runs in a process of its own (``bench/export_bench.py --measure``), so each peak
RSS is its own: ours is ``services.write_file(..., fmt="csv")``, what ``export_cases --format csv``
writes with, then the count it records; the ceiling is ``COPY (report query) TO STDOUT`` read by the
same driver. Ours and COPY alternate, round after round, and each round's ratio compares two runs a
few seconds apart, which is what holds on a machine other people load too.
"""

from __future__ import annotations

import statistics

from bench import export_bench

TARGET_RATIO = 0.5
TARGET_RSS_MB = 150


def run(*, url: str, rows: int, rounds: int = 3, log=print) -> dict:
    log(f"\nCSV export of {rows:,} cases against COPY of the same columns, {rounds} rounds (each in its own process)")
    results: list[dict] = []
    for number in range(1, rounds + 1):
        ours = export_bench.child("ours_csv", rows, url)
        copy = export_bench.child("pg_copy", rows, url)
        if "error" in ours or "error" in copy:
            results.append({"error": ours.get("error") or copy.get("error")})
            log(f"  round {number}: failed: {results[-1]['error']}")
            continue
        ratio = ours["rows_per_second"] / copy["rows_per_second"]
        results.append({"ours": ours, "copy": copy, "ratio": round(ratio, 3)})
        log(f"  round {number}: ours {ours['rows_per_second']:>9,} rows/s ({ours['seconds']:.1f} s, "
            f"{ours['peak_rss_mb']:.0f} MB)   COPY {copy['rows_per_second']:>9,} rows/s ({copy['seconds']:.1f} s)"
            f"   ratio {ratio:.2f}")
    good = [r for r in results if "error" not in r]
    summary: dict = {"rows": rows, "rounds": results, "target_ratio": TARGET_RATIO, "target_rss_mb": TARGET_RSS_MB}
    if good:
        summary.update(
            ours_rows_per_second=round(statistics.median(r["ours"]["rows_per_second"] for r in good)),
            copy_rows_per_second=round(statistics.median(r["copy"]["rows_per_second"] for r in good)),
            ratio=round(statistics.median(r["ratio"] for r in good), 3),
            peak_rss_mb=max(r["ours"]["peak_rss_mb"] for r in good),
        )
        summary["pass"] = (len(good) == len(results) and summary["ratio"] >= TARGET_RATIO
                           and summary["peak_rss_mb"] < TARGET_RSS_MB)
    else:
        summary["pass"] = False
    return summary


def report(summary: dict, log=print) -> int:
    if "ratio" not in summary:
        log("  CSV export: every round failed  FAIL")
        return 1
    log(f"  CSV export, median of {len(summary['rounds'])}: ours {summary['ours_rows_per_second']:,} rows/s, "
        f"COPY {summary['copy_rows_per_second']:,} rows/s, ratio {summary['ratio']:.2f} (target >= "
        f"{TARGET_RATIO}), peak RSS {summary['peak_rss_mb']:.0f} MB (target < {TARGET_RSS_MB} MB)  "
        f"{'PASS' if summary['pass'] else 'FAIL'}")
    return 0 if summary["pass"] else 1
