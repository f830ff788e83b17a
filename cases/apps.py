from django.apps import AppConfig


class CasesConfig(AppConfig):
    name = "cases"
    verbose_name = "Refund cases"

    def ready(self) -> None:
        from cases import after_response
        from cases.portal import shops

        after_response.connect()
        shops.connect()
