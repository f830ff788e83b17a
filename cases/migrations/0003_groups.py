"""The two staff roles, created with their permissions so that a bare ``migrate`` has them."""

from django.contrib.auth.management import create_permissions
from django.db import migrations

AGENT = [
    "orders.view_storefront", "orders.view_customer", "orders.view_plan", "orders.view_order",
    "orders.view_subscription", "orders.view_extension", "orders.view_chargeback", "orders.add_chargeback",
    "policies.view_policyversion", "policies.view_clause",
    "cases.view_refundcase", "cases.add_refundcase", "cases.change_refundcase", "cases.work_refundcase",
    "cases.view_evidence", "cases.add_evidence", "cases.view_caseevent", "cases.view_payout",
]
MANAGER = AGENT + [
    "orders.change_storefront", "orders.add_customer", "orders.change_customer", "orders.add_plan",
    "orders.change_plan", "orders.add_order", "orders.change_order", "orders.add_subscription",
    "orders.change_subscription", "orders.change_chargeback", "orders.lift_sanction",
    "policies.add_policyversion", "policies.change_policyversion", "policies.simulate_policy",
    "policies.change_clause",
    "cases.approve_exception", "cases.pay_refundcase", "cases.export_refundcase",
]
GROUPS = {"Support agent": AGENT, "Support manager": MANAGER}


def create_groups(apps, schema_editor):
    # Permissions are normally created after all migrations; these groups need them now.
    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for name, codes in GROUPS.items():
        group, _ = Group.objects.get_or_create(name=name)
        for code in codes:
            app_label, codename = code.split(".")
            group.permissions.add(Permission.objects.get(content_type__app_label=app_label, codename=codename))


class Migration(migrations.Migration):
    dependencies = [
        ("cases", "0002_initial"),
        ("orders", "0001_initial"),
        ("policies", "0002_shipped_policies"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [migrations.RunPython(create_groups, migrations.RunPython.noop)]
