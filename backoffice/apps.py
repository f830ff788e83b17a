from django.apps import AppConfig
from django.contrib.admin.apps import AdminConfig


class BackofficeAdminConfig(AdminConfig):
    default_site = "core.admin_site.BackofficeAdminSite"


class BackofficeConfig(AppConfig):
    """The project itself, as an app: its management commands (seed_demo)."""

    name = "backoffice"

    def ready(self) -> None:
        from backoffice import checks  # noqa: F401  (registers the system checks)
