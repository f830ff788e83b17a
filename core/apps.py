from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "core"
    verbose_name = "Core"

    def ready(self) -> None:
        from django.contrib.auth.signals import user_logged_in

        from core import after_response
        from core.second_factor import gate

        after_response.connect()
        user_logged_in.connect(gate.remember_at_login, dispatch_uid="core.second_factor.remember_at_login")
