"""(c) Accepting evidence images: the whole upload pipeline against a plain Pillow decode and save.

Usage: ``.venv/bin/python bench/uploads_bench.py [--quick] [--repeats N]``. Pinned to one CPU.

Two inputs, made here with a fixed seed so every run measures the same bytes:
- a 1170×2532 PNG phone screenshot (interface, text and a picture area), with an ICC profile, an
  EXIF block and text chunks as phones write them; **target under 300 ms**;
- a 12 MP (4032×3024) JPEG photo taken sideways (EXIF orientation 6, GPS, a comment, an ICC
  profile); **target under 400 ms**.

Each is measured through ``core.uploads.prepare_upload`` (read, sniff, structure walk, decode,
checks, upright, re-encode without metadata, thumbnail) and through ``evidence_add`` (the same
plus the case lock, storage and the database row, on a throwaway SQLite database). Baseline, same
run: ``Image.open(...).load()`` then ``save()`` in the same format with Pillow's defaults. Peak
memory is how far the resident set rises above its resting size while one input goes through the
pipeline, in a child process of its own (Linux: the kernel's peak, reset before the upload).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from io import BytesIO
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
TARGETS_MS = {"screenshot": 300.0, "photo": 400.0}


def screenshot_png() -> bytes:
    from PIL import Image, ImageCms, ImageDraw, PngImagePlugin

    rng = random.Random(7)
    image = Image.new("RGB", (1170, 2532), (242, 242, 247))
    draw = ImageDraw.Draw(image)
    draw.rectangle((0, 0, 1170, 140), fill=(28, 28, 30))
    # A picture area: a smooth gradient with grain, like a video still or a photo in a chat.
    picture = Image.linear_gradient("L").resize((1170, 900)).convert("RGB")
    grain = Image.effect_noise((1170, 900), 18).convert("RGB")
    image.paste(Image.blend(picture, grain, 0.25), (0, 160))
    for y in range(1100, 2500, 64):
        colour = (rng.randrange(256), rng.randrange(256), rng.randrange(256))
        draw.ellipse((40, y, 88, y + 48), fill=colour)
        draw.text((110, y + 8), "Error 403: your line has expired. Code E-" + str(rng.randrange(10**6)),
                  fill=(20, 20, 20))
        draw.line((40, y + 58, 1130, y + 58), fill=(210, 210, 215))
    info = PngImagePlugin.PngInfo()
    info.add_itxt("XML:com.adobe.xmp", "<x:xmpmeta xmlns:x='adobe:ns:meta/'>Screenshot</x:xmpmeta>")
    exif = Image.Exif()
    exif[0x9286] = "Screenshot"
    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    out = BytesIO()
    image.save(out, format="PNG", pnginfo=info, exif=exif, icc_profile=icc)
    return out.getvalue()


def photo_jpeg() -> bytes:
    from PIL import Image, ImageCms

    scene = Image.radial_gradient("L").resize((4032, 3024)).convert("RGB")
    grain = Image.effect_noise((4032, 3024), 30).convert("RGB")
    image = Image.blend(scene, grain, 0.3)
    exif = Image.Exif()
    exif[0x010F], exif[0x0110], exif[0x0112] = "Apple", "iPhone 15", 6
    gps = exif.get_ifd(0x8825)
    gps[1], gps[2], gps[3], gps[4] = "N", (48.0, 51.0, 29.0), "E", (2.0, 17.0, 40.0)
    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    out = BytesIO()
    image.save(out, format="JPEG", quality=90, exif=exif, icc_profile=icc, comment="taken on holiday")
    return out.getvalue()


def _upload(name: str, data: bytes):
    from django.core.files.uploadedfile import SimpleUploadedFile

    return SimpleUploadedFile(name, data, content_type="")


def _baseline(data: bytes) -> None:
    from PIL import Image

    with Image.open(BytesIO(data)) as image:
        image.load()
        image.save(BytesIO(), format=image.format)


def _median_ms(action, repeats: int) -> tuple[float, float]:
    """Median CPU time and median wall time, in ms. The CPU time is what one core spends; on a
    shared machine the wall time also counts the time other processes held the core."""
    action()  # warm-up: imports, codec tables
    cpu, wall = [], []
    for _ in range(repeats):
        began, began_cpu = time.perf_counter(), time.process_time()
        action()
        cpu.append((time.process_time() - began_cpu) * 1000)
        wall.append((time.perf_counter() - began) * 1000)
    return statistics.median(cpu), statistics.median(wall)


def _status_kb(field: str) -> int:
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


def _peak_here(name: str, path: Path) -> float | None:
    """In a fresh process: how far the resident set rises above its resting size for one upload.

    Linux only: writing 5 to clear_refs resets the kernel's peak (VmHWM) to the current size.
    """
    from core.uploads import prepare_upload

    data = path.read_bytes()
    prepare_upload(_upload("warm.png", _tiny_png()), documents_allowed=False)  # imports and codecs
    try:
        with open("/proc/self/clear_refs", "w", encoding="ascii") as clear:
            clear.write("5")
    except OSError:
        return None
    before = _status_kb("VmRSS")
    prepare_upload(_upload(name, data), documents_allowed=False)
    return round((_status_kb("VmHWM") - before) / 1024, 1)


def peak_mb(name: str, data: bytes, workdir: Path) -> float | None:
    # A child process of its own: Pillow's and malloc's freed memory in this one would hide the peak.
    path = workdir / f"peak-{name}"
    path.write_bytes(data)
    done = subprocess.run([sys.executable, __file__, "--peak-of", name, str(path)], capture_output=True,
                          text=True, check=True, env={**os.environ, "DJANGO_SETTINGS_MODULE": "backoffice.settings"})
    value = done.stdout.strip().splitlines()[-1]
    return None if value == "None" else float(value)


def _tiny_png() -> bytes:
    from PIL import Image

    out = BytesIO()
    Image.new("RGB", (8, 8)).save(out, format="PNG")
    return out.getvalue()


def measure(label: str, name: str, data: bytes, *, repeats: int, case, workdir: Path) -> dict:
    from cases.evidence import evidence_add
    from cases.models import Evidence
    from core.uploads import prepare_upload

    prepared = prepare_upload(_upload(name, data), documents_allowed=False)
    pipeline, pipeline_wall = _median_ms(lambda: prepare_upload(_upload(name, data), documents_allowed=False),
                                         repeats)
    baseline, baseline_wall = _median_ms(lambda: _baseline(data), repeats)

    def accept() -> None:
        Evidence.objects.filter(case=case).delete()  # the same file again would be kept once
        evidence_add(case=case, kind="screenshot", upload=_upload(name, data), from_customer=True)

    full, full_wall = _median_ms(accept, repeats)
    target = TARGETS_MS[label]
    return {
        "input": {"name": name, "bytes": len(data)},
        "stored": {"content_type": prepared.content_type, "bytes": len(prepared.data),
                   "size": [prepared.width, prepared.height], "thumbnail_bytes": len(prepared.thumbnail)},
        "pipeline_ms": round(pipeline, 1),
        "evidence_add_ms": round(full, 1),
        "baseline_ms": round(baseline, 1),
        "wall_ms": {"pipeline": round(pipeline_wall, 1), "evidence_add": round(full_wall, 1),
                    "baseline": round(baseline_wall, 1)},
        "ratio_to_baseline": round(pipeline / baseline, 2),
        "target_ms": target,
        "ratio_to_target": round(full / target, 2),
        "peak_mb": peak_mb(name, data, workdir),
    }


def report(results: dict) -> None:
    for label, row in results.items():
        verdict = "PASS" if row["ratio_to_target"] < 1 else "FAIL"
        print(
            f"  {label:<10} {row['input']['bytes'] / 1e6:5.2f} MB in -> {row['stored']['bytes'] / 1e6:5.2f} MB "
            f"{row['stored']['content_type']} {row['stored']['size'][0]}×{row['stored']['size'][1]}\n"
            f"             CPU: pipeline {row['pipeline_ms']:6.1f} ms, evidence_add {row['evidence_add_ms']:6.1f} ms, "
            f"baseline (Pillow decode+save) {row['baseline_ms']:6.1f} ms, ratio {row['ratio_to_baseline']:.2f}\n"
            f"             wall: pipeline {row['wall_ms']['pipeline']:6.1f} ms, evidence_add "
            f"{row['wall_ms']['evidence_add']:6.1f} ms, baseline {row['wall_ms']['baseline']:6.1f} ms\n"
            f"             target {row['target_ms']:.0f} ms (evidence_add, CPU): ratio {row['ratio_to_target']:.2f} "
            f"{verdict}; peak memory +{row['peak_mb']} MB"
        )


def _bench_case():
    from django.contrib.auth.models import User

    from cases import services
    from orders.models import Customer, Order, Plan, Storefront, Subscription

    storefront = Storefront.objects.order_by("slug").first()
    plan = Plan.objects.create(storefront=storefront, name="bench", months=1, devices=1, price=Decimal("14.99"),
                               currency="USD")
    customer = Customer.objects.create(storefront=storefront, email="bench@example.com")
    purchased = datetime.now(UTC) - timedelta(hours=2)
    order = Order.objects.create(storefront=storefront, customer=customer, plan=plan, number="BENCH-1",
                                 amount=Decimal("14.99"), currency="USD", payment_method="card", purchased_at=purchased)
    Subscription.objects.create(order=order, delivered_at=purchased + timedelta(minutes=5))
    agent = User.objects.create_superuser("bench-uploads", "bench@example.com", "x")
    return services.case_create(order=order, reason="other", actor=agent, channel="admin",
                                description="bench")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repeats, to check the bench itself")
    parser.add_argument("--repeats", type=int, default=None)
    parser.add_argument("--peak-of", nargs=2, metavar=("NAME", "PATH"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.peak_of:
        import django

        sys.path.insert(0, str(ROOT))
        django.setup()
        print(_peak_here(args.peak_of[0], Path(args.peak_of[1])))
        return 0
    repeats = args.repeats or (2 if args.quick else 7)
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})  # one core, as the target says
    sys.path.insert(0, str(ROOT))
    from bench.run import setup_django

    os.environ["EMAIL_BACKEND"] = "django.core.mail.backends.locmem.EmailBackend"

    workdir = Path(tempfile.mkdtemp(prefix="refund-bench-uploads-"))
    try:
        setup_django(workdir)
        case = _bench_case()
        inputs = {"screenshot": ("screenshot.png", screenshot_png()), "photo": ("photo.jpg", photo_jpeg())}
        print(f"(c) Evidence uploads on one core, median of {repeats}")
        results = {label: measure(label, name, data, repeats=repeats, case=case, workdir=workdir)
                   for label, (name, data) in inputs.items()}
        report(results)
        RESULTS.mkdir(parents=True, exist_ok=True)
        stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
        path = RESULTS / f"uploads-{stamp}{'-quick' if args.quick else ''}.json"
        path.write_text(json.dumps({"started_at": stamp, "repeats": repeats, "uploads": results}, indent=2) + "\n",
                        encoding="utf-8")
        print(f"Results: {path.relative_to(ROOT)}")
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
