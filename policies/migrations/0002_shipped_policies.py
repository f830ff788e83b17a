"""The two storefronts of docs/policies.md, their published policies and every clause's text.

Created by a migration so that a bare ``migrate`` gives a working product. Later edits to the
parameters are made in the admin, as new versions.
"""

from datetime import datetime, timezone
from pathlib import Path

from django.db import migrations

TEXTS = Path(__file__).resolve().parent.parent / "texts"

STOREFRONTS = [
    {"slug": "iptv-smarters-pro", "name": "IPTV Smarters Pro", "support_email": "support@iptvsmarterspro.org"},
    {"slug": "smarters-pro", "name": "Smarters Pro", "support_email": "support@smarters-pro.net"},
]

VERSIONS = [
    {
        "storefront": "iptv-smarters-pro",
        "version": "1",
        "effective_from": datetime(2020, 1, 1, tzinfo=timezone.utc),
        "code": "S0",
        "full_refund_window_hours": 48,
        "prorate_after_window": True,
        "fix_first": True,
        "fix_window_hours": 48,
        "outage_guarantee_hours": 48,
        "short_outage_clause": "S0-NO-INTERMITTENT",
        "exclusions": {
            "setup_difficulty": "S0-NO-SETUP",
            "intermittent_streams": "S0-NO-INTERMITTENT",
            "changed_mind": "S0-NO-CHANGE",
            "server_switch": "S0-NO-CHANGE",
            "adult_channels_missing": "S0-NO-ADULT",
        },
        "evidence_clause": "S0-EVIDENCE",
        "arrival_card_min": 20, "arrival_card_max": 31, "arrival_card_worst": 90,
        "arrival_other_min": 20, "arrival_other_max": 90, "arrival_other_worst": 90,
    },
    {
        "storefront": "smarters-pro",
        "version": "2025-12-05",
        "effective_from": datetime(2025, 12, 5, tzinfo=timezone.utc),
        "code": "S1",
        "used_on_delivery": True,
        "discretion_after_delivery": True,
        "exclusions": {"changed_mind": "S1-NOT-ELIGIBLE"},
        "evidence_clause": "S1-VERIFY",
        "arrival_card_min": 3, "arrival_card_max": 10, "arrival_card_worst": 10,
        "arrival_other_min": 3, "arrival_other_max": 10, "arrival_other_worst": 10,
        "chargeback_sanction": True,
        "statutory_override": True,
    },
]

# (clause ID, storefront slug or None for house rules, the clause, what the product does)
CLAUSES = [
    ('S0-REQUEST', 'iptv-smarters-pro', 'Ask by e-mail, subject "Refund Request", with the order number and the reason', 'E-mail intake: a message whose subject contains "Refund Request" (any case) and names a known order of the sender opens a case; otherwise an automatic reply asks for the order number and nothing is opened'),
    ('S0-EVIDENCE', 'iptv-smarters-pro', 'You may be asked for evidence; we provide proof of the service delivered', 'Staff can request evidence from the customer (screenshots, error messages); staff can attach proof of service (e.g. connection logs) to the case'),
    ('S0-FIX-FIRST', 'iptv-smarters-pro', 'No refund for technical issues unless we had the chance to resolve them', 'A `technical_issue` case cannot be approved until a fix attempt has been recorded and has failed, or its 48 h window has run out'),
    ('S0-FIX-48H', 'iptv-smarters-pro', 'If we cannot resolve the issue within 48 h, we issue a full refund', 'Fix attempt marked failed, or still unresolved 48 h after it started → refund (while it is pending and younger than 48 h: wait). **Reading:** full if the request came within the 48 h purchase window (S0-WINDOW), otherwise prorated (S0-PARTIAL)'),
    ('S0-WINDOW', 'iptv-smarters-pro', 'Refunds must be requested within 48 h of purchase; full refunds only for requests within 48 h', 'Request ≤ 48 h after purchase and not excluded → full refund'),
    ('S0-PARTIAL', 'iptv-smarters-pro', 'After 48 h, refunds may be partial, based on how much of the subscription was used', 'Request > 48 h after purchase and not excluded → prorated refund'),
    ('S0-NO-SETUP', 'iptv-smarters-pro', 'No refund when the user cannot set up their own device', 'reason `setup_difficulty` → deny'),
    ('S0-NO-INTERMITTENT', 'iptv-smarters-pro', 'No refund for channels that freeze, buffer or rarely go offline', 'reason `intermittent_streams` → deny; also a server outage of 48 h or less'),
    ('S0-NO-CHANGE', 'iptv-smarters-pro', 'No refund when the customer changes their mind or asks to switch servers', 'reasons `changed_mind`, `server_switch` → deny'),
    ('S0-NO-ADULT', 'iptv-smarters-pro', 'No refund for missing adult channels', 'reason `adult_channels_missing` → deny'),
    ('S0-OUTAGE', 'iptv-smarters-pro', 'No access for more than 48 h due to a server-side problem → full refund, or extension for the lost time plus a bonus period', 'reason `server_outage` with outage > 48 h → customer or agent chooses: full refund (whatever the purchase date), or extension of ceil(outage hours / 24) days plus a bonus the agent sets'),
    ('S0-ARRIVAL', 'iptv-smarters-pro', 'Card refunds take 20–31 business days, up to 90; processor refunds 20–90 business days', 'Paid case shows the expected arrival window: card or debit card 20–31 business days (worst case 90); any other method 20–90'),
    ('S0-NO-ACCELERATE', 'iptv-smarters-pro', 'We cannot accelerate the processor; not responsible for bank delays', 'Customer e-mails and the portal state the window; no "expedite" action exists'),
    ('S0-SUPPORT-COMMS', 'iptv-smarters-pro', 'The support team handles all refund communication', "Every customer e-mail goes out from the storefront's support address"),
    ('S1-DIGITAL', 'smarters-pro', 'Digital services only; no physical returns or exchanges', 'No return/shipping fields anywhere'),
    ('S1-USED-ON-DELIVERY', 'smarters-pro', 'The service counts as used once the access details are created and sent', 'Not yet delivered → full refund. Delivered → no automatic refund: see S1-DISCRETION'),
    ('S1-DISCRETION', 'smarters-pro', 'At our sole discretion, a partial or full refund even after activation, in specific cases (the list is missing from the copy)', "Delivered cases go to a manager's decision: any amount up to the refundable remainder, with a written justification; agents cannot approve them"),
    ('S1-VERIFY', 'smarters-pro', 'We may ask for screenshots, error messages or other information before deciding', 'Evidence request, as S0-EVIDENCE'),
    ('S1-NOT-ELIGIBLE', 'smarters-pro', 'A list of situations not eligible for a refund (missing from the copy)', 'Kept as configurable exclusions of the policy version; shipped with `changed_mind` (**Reading**)'),
    ('S1-PERIOD', 'smarters-pro', 'Plans of 1, 3, 6, 12 months and multi-device plans, counted from activation', 'Subscription end = delivery time + plan months'),
    ('S1-CONTACT', 'smarters-pro', "Contact through the website's support options or WhatsApp, with the order details", 'Channels `portal`, `whatsapp` (entered by an agent), `email`, `admin`'),
    ('S1-SAME-METHOD', 'smarters-pro', 'Refund to the original payment method whenever possible', "The payout method defaults to the order's; choosing another needs a note"),
    ('S1-ARRIVAL', 'smarters-pro', 'Refunds usually appear within 3–10 business days', 'Paid case shows 3–10 business days'),
    ('S1-CHARGEBACK', 'smarters-pro', 'Chargeback without contacting us first → we may suspend or terminate the subscriptions of that payment and restrict future orders', "Recording a chargeback on an order with no earlier case or contact from the customer suspends that order's active subscriptions and marks the customer as restricted from ordering; a manager can lift both, with a note"),
    ('S1-STATUTORY', 'smarters-pro', 'Nothing limits consumer rights under local law', 'A manager-only "statutory override" approval that bypasses policy blocks, requires the legal basis in writing, and is marked as such in reports'),
    ('S1-VERSIONING', 'smarters-pro', 'The policy changes over time; the "Last updated" date says which text is in force', 'Policies are versioned per storefront with an effective date; a case is judged by the version in force at purchase time (the earliest version if the purchase predates all); the decision records which version it used'),
    ('H-DUPLICATE', None, 'reason `duplicate_payment` (the customer was charged twice): full refund of the duplicate order, whatever the dates', ''),
    ('H-CAP', None, 'No refund may exceed the refundable remainder of the order; a case whose remainder is zero can only be denied', ''),
    ('H-FOUR-EYES', None, 'Only a user with the pay permission can mark a refund paid, and not the same user who approved it (the storefront can switch this off)', ''),
    ('H-FULL-LABEL', None, 'A refund whose amount equals the refundable remainder is reported as `full_refund`; a prorated amount of 0.00 is a denial under the clause that prorated it', ''),
]


def create(apps, schema_editor):
    Storefront = apps.get_model("orders", "Storefront")
    PolicyVersion = apps.get_model("policies", "PolicyVersion")
    Clause = apps.get_model("policies", "Clause")
    storefronts = {}
    for data in STOREFRONTS:
        storefronts[data["slug"]], _ = Storefront.objects.get_or_create(slug=data["slug"], defaults=data)
    for data in VERSIONS:
        data = dict(data)
        storefront = storefronts[data.pop("storefront")]
        text = (TEXTS / f"{storefront.slug}.txt").read_text(encoding="utf-8")
        PolicyVersion.objects.get_or_create(
            storefront=storefront, version=data.pop("version"), defaults={**data, "text": text}
        )
    for clause_id, slug, summary, action in CLAUSES:
        house = slug is None
        Clause.objects.get_or_create(
            clause_id=clause_id,
            defaults={
                "storefront": None if house else storefronts[slug],
                "summary": summary,
                "action": action,
            },
        )


class Migration(migrations.Migration):
    dependencies = [("orders", "0001_initial"), ("policies", "0001_initial")]

    operations = [migrations.RunPython(create, migrations.RunPython.noop)]
