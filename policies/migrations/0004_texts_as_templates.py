"""The shipped policy texts and clause texts become templates over their version's rules.

Rendered with the shipped versions' rules, every text reads exactly as before; a text that was edited
since it shipped is left as it is (it is checked when its version is next published or saved).
"""

from pathlib import Path

from django.db import migrations, models

TEXTS = Path(__file__).resolve().parent.parent / "texts"
SLUGS = ["iptv-smarters-pro", "smarters-pro"]
HELP = (
    "The published policy text. Write each number of hours or days, and each exclusion, as the rule it states, "
    "e.g. {{ window_hours }} or {% if excludes.changed_mind %}…{% endif %}: the text then follows the rules below."
)

# clause ID: ((shipped summary, template), (shipped action, template)); None where the text has no rule in it
CLAUSES = {
    "S0-FIX-FIRST": (None, (
        "A `technical_issue` case cannot be approved until a fix attempt has been recorded and has failed, or its "
        "48 h window has run out",
        "A `technical_issue` case cannot be approved until a fix attempt has been recorded and has failed, or its "
        "{{ fix_hours }} h window has run out",
    )),
    "S0-FIX-48H": ((
        "If we cannot resolve the issue within 48 h, we issue a full refund",
        "If we cannot resolve the issue within {{ fix_hours }} h, we issue a full refund",
    ), (
        "Fix attempt marked failed, or still unresolved 48 h after it started → refund (while it is pending and "
        "younger than 48 h: wait). **Reading:** full if the request came within the 48 h purchase window "
        "(S0-WINDOW), otherwise prorated (S0-PARTIAL)",
        "Fix attempt marked failed, or still unresolved {{ fix_hours }} h after it started → refund (while it is "
        "pending and younger than {{ fix_hours }} h: wait). **Reading:** full if the request came within the "
        "{{ window_hours }} h purchase window (S0-WINDOW), otherwise prorated (S0-PARTIAL)",
    )),
    "S0-WINDOW": ((
        "Refunds must be requested within 48 h of purchase; full refunds only for requests within 48 h",
        "Refunds must be requested within {{ window_hours }} h of purchase; full refunds only for requests within "
        "{{ window_hours }} h",
    ), (
        "Request ≤ 48 h after purchase and not excluded → full refund",
        "Request ≤ {{ window_hours }} h after purchase and not excluded → full refund",
    )),
    "S0-PARTIAL": ((
        "After 48 h, refunds may be partial, based on how much of the subscription was used",
        "After {{ window_hours }} h, refunds may be partial, based on how much of the subscription was used",
    ), (
        "Request > 48 h after purchase and not excluded → prorated refund",
        "Request > {{ window_hours }} h after purchase and not excluded → prorated refund",
    )),
    "S0-NO-INTERMITTENT": ((
        "No refund for channels that freeze, buffer or rarely go offline",
        "No refund for channels that {% if excludes.intermittent_streams %}freeze, buffer or {% endif %}"
        "rarely go offline",
    ), (
        "reason `intermittent_streams` → deny; also a server outage of 48 h or less",
        "{% if excludes.intermittent_streams %}reason `intermittent_streams` → deny; also a{% else %}A{% endif %} "
        "server outage of {{ outage_hours }} h or less",
    )),
    "S0-NO-CHANGE": ((
        "No refund when the customer changes their mind or asks to switch servers",
        "No refund when the customer {% if excludes.changed_mind %}changes their mind{% endif %}"
        "{% if excludes.changed_mind and excludes.server_switch %} or {% endif %}"
        "{% if excludes.server_switch %}asks to switch servers{% endif %}",
    ), None),
    "S0-OUTAGE": ((
        "No access for more than 48 h due to a server-side problem → full refund, or extension for the lost time "
        "plus a bonus period",
        "No access for more than {{ outage_hours }} h due to a server-side problem → full refund, or extension for "
        "the lost time plus a bonus period",
    ), (
        "reason `server_outage` with outage > 48 h → customer or agent chooses: full refund (whatever the purchase "
        "date), or extension of ceil(outage hours / 24) days plus a bonus the agent sets",
        "reason `server_outage` with outage > {{ outage_hours }} h → customer or agent chooses: full refund "
        "(whatever the purchase date), or extension of ceil(outage hours / 24) days plus a bonus the agent sets",
    )),
    "S0-ARRIVAL": ((
        "Card refunds take 20–31 business days, up to 90; processor refunds 20–90 business days",
        "Card refunds take {{ card_min_days }}–{{ card_max_days }} business days, up to {{ card_worst_days }}; "
        "processor refunds {{ other_min_days }}–{{ other_max_days }} business days",
    ), (
        "Paid case shows the expected arrival window: card or debit card 20–31 business days (worst case 90); any "
        "other method 20–90",
        "Paid case shows the expected arrival window: card or debit card {{ card_min_days }}–{{ card_max_days }} "
        "business days (worst case {{ card_worst_days }}); any other method {{ other_min_days }}–"
        "{{ other_max_days }}",
    )),
    "S1-ARRIVAL": ((
        "Refunds usually appear within 3–10 business days",
        "Refunds usually appear within {{ card_min_days }}–{{ card_max_days }} business days",
    ), (
        "Paid case shows 3–10 business days",
        "Paid case shows {{ card_min_days }}–{{ card_max_days }} business days",
    )),
}


def _swap(apps, *, forwards: bool):
    PolicyVersion = apps.get_model("policies", "PolicyVersion")
    PolicyDraft = apps.get_model("policies", "PolicyDraft")
    Clause = apps.get_model("policies", "Clause")
    pick = (lambda pair: pair) if forwards else (lambda pair: pair[::-1])
    for slug in SLUGS:
        old, new = pick(((TEXTS / f"{slug}.txt").read_text(encoding="utf-8"),
                         (TEXTS / f"{slug}.template.txt").read_text(encoding="utf-8")))
        PolicyVersion.objects.filter(storefront__slug=slug, text=old).update(text=new)
        PolicyDraft.objects.filter(storefront__slug=slug, published_as=None, text=old).update(text=new)
    for clause_id, (summary, action) in CLAUSES.items():
        for field, pair in (("summary", summary), ("action", action)):
            if pair is not None:
                old, new = pick(pair)
                Clause.objects.filter(clause_id=clause_id, **{field: old}).update(**{field: new})


def forwards(apps, schema_editor):
    _swap(apps, forwards=True)


def backwards(apps, schema_editor):
    _swap(apps, forwards=False)


class Migration(migrations.Migration):
    dependencies = [("policies", "0003_drafts_and_backtests")]

    operations = [
        migrations.AlterField(model_name="policydraft", name="text", field=models.TextField(blank=True, help_text=HELP)),
        migrations.AlterField(model_name="policyversion", name="text", field=models.TextField(blank=True, help_text=HELP)),
        migrations.RunPython(forwards, backwards),
    ]
