from django.apps import AppConfig


class CasesConfig(AppConfig):
    name = "cases"
    verbose_name = "Refund cases"

    def ready(self) -> None:
        from cases.portal import shops
        from core import after_response

        after_response.connect()
        shops.connect()
