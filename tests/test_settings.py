import json
import logging
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def run_manage(*args: str, **env: str) -> subprocess.CompletedProcess:
    # Only this project's variables are set explicitly; anything the test session exported stays out.
    ignored = {"DJANGO_ENV", "SECRET_KEY", "DEBUG", "ALLOWED_HOSTS", "DJANGO_ALLOW_ASYNC_UNSAFE", "CACHE_URL",
               "RATE_LIMITS_SINGLE_PROCESS", "TRUSTED_PROXY_COUNT", "OTP_REQUIRED_FOR_PRIVILEGED",
               "CONNECTION_KEYS"}
    environment = {k: v for k, v in os.environ.items() if k not in ignored}
    environment.update(env)
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=environment, capture_output=True, text=True, timeout=120
    )


PRODUCTION = {
    "DJANGO_ENV": "production",
    "SECRET_KEY": "k" * 20 + "production-secret-with-enough-entropy-9f8e7d6c5b4a",
    "ALLOWED_HOSTS": "refunds.example.com",
    "CONNECTION_KEYS": "Vx0XWCNQmRj2bkB8gF6kh0p0CJFgHSzmL0A2e1Cq9YQ=",
}


def test_it_passes_the_deploy_check_in_production_mode():
    result = run_manage("check", "--deploy", "--fail-level", "WARNING", **PRODUCTION, CACHE_URL="redis://127.0.0.1:6379/2")
    assert result.returncode == 0, result.stderr + result.stdout
    assert "no issues" in result.stdout


def test_it_refuses_production_with_rate_limits_in_each_processs_memory():
    for command in (("check",), ("check", "--deploy")):
        result = run_manage(*command, **PRODUCTION, CACHE_URL="")
        assert result.returncode != 0, command
        assert "rate limits need a cache that every worker process and server shares" in result.stderr
        assert "Set CACHE_URL to a Redis server" in result.stderr


def test_it_accepts_memory_for_a_single_process_deploy_when_told_so():
    result = run_manage("check", "--deploy", "--fail-level", "WARNING", **PRODUCTION, CACHE_URL="",
                        RATE_LIMITS_SINGLE_PROCESS="1")
    assert result.returncode == 0, result.stderr + result.stdout


def test_it_refuses_to_start_in_production_without_a_secret_key():
    result = run_manage("check", DJANGO_ENV="production", ALLOWED_HOSTS="refunds.example.com")
    assert result.returncode != 0
    assert "SECRET_KEY must be set" in result.stderr


def test_it_runs_locally_with_no_configuration():
    result = run_manage("check")
    assert result.returncode == 0, result.stderr


def test_it_treats_debug_off_as_production():
    """The published local key never runs with DEBUG off, however production was asked for."""
    result = run_manage("check", DEBUG="0", ALLOWED_HOSTS="refunds.example.com")
    assert result.returncode != 0
    assert "SECRET_KEY must be set" in result.stderr


def test_it_prints_each_django_log_line_once():
    """Django's own console handler plus the root handler used to print every django.* line twice."""
    result = subprocess.run(
        [sys.executable, "-c", (
            "import django, logging; django.setup();"
            "logging.getLogger('django.request').warning('probe-line-%s', 42)"
        )],
        cwd=ROOT, env={**os.environ, "DJANGO_SETTINGS_MODULE": "backoffice.settings"},
        capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert (result.stdout + result.stderr).count("probe-line-42") == 1


def test_it_logs_a_refused_action_as_one_warning_line_without_a_traceback(s1, agent, caplog):
    from tests.admin.conftest import client_for, open_case
    from tests.admin.test_case_actions import post_action

    case = open_case(s1, reason="other", order_kwargs={"purchased_at": None})
    with caplog.at_level(logging.INFO):
        post_action(client_for(agent), case, "approve", {"amount": "10.00", "note": "Please."})
    refused = [record for record in caplog.records if "Only a support manager" in record.getMessage()]
    assert len(refused) == 1
    assert refused[0].levelno == logging.WARNING
    assert refused[0].exc_info is None
    assert "\n" not in refused[0].getMessage()
    assert not [record for record in caplog.records if record.exc_info]


def database_settings(**env: str) -> dict:
    """CONN_MAX_AGE and CONN_HEALTH_CHECKS as the settings module reads them from ``env``."""
    script = (
        "import json, django; django.setup(); from django.conf import settings;"
        "db = settings.DATABASES['default'];"
        "print(json.dumps({k: db[k] for k in ('CONN_MAX_AGE', 'CONN_HEALTH_CHECKS')}))"
    )
    ignored = {"DJANGO_ENV", "SECRET_KEY", "DEBUG", "ALLOWED_HOSTS", "CONN_MAX_AGE", "CONN_HEALTH_CHECKS"}
    environment = {k: v for k, v in os.environ.items() if k not in ignored}
    environment.update({"DJANGO_SETTINGS_MODULE": "backoffice.settings", **env})
    result = subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=environment, capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_it_keeps_database_connections_open_between_requests_in_production():
    production = {"DJANGO_ENV": "production", "SECRET_KEY": "s" * 60, "ALLOWED_HOSTS": "refunds.example.com",
                  "DATABASE_URL": "postgres://refunds@db.example.com:5432/refunds"}
    assert database_settings(**production) == {"CONN_MAX_AGE": 600, "CONN_HEALTH_CHECKS": True}
    assert database_settings(**production, CONN_MAX_AGE="60", CONN_HEALTH_CHECKS="0") == {
        "CONN_MAX_AGE": 60, "CONN_HEALTH_CHECKS": False,
    }


def test_it_closes_database_connections_after_each_request_locally():
    """runserver serves each request in a thread of its own: a kept connection would never be reused."""
    assert database_settings()["CONN_MAX_AGE"] == 0


def test_it_collects_every_static_file_for_production(tmp_path):
    """The manifest storage follows every url() and sourceMappingURL; one missing file stops the deploy."""
    env = {
        "DJANGO_ENV": "production",
        "SECRET_KEY": "k" * 20 + "production-secret-with-enough-entropy-9f8e7d6c5b4a",
        "ALLOWED_HOSTS": "refunds.example.com",
        "STATIC_ROOT": str(tmp_path / "static"),
        "CACHE_URL": "redis://127.0.0.1:6379/15",
    }
    result = run_manage("collectstatic", "--noinput", "-v0", **env)
    assert result.returncode == 0, result.stderr + result.stdout
    manifest = (tmp_path / "static" / "staticfiles.json").read_text()
    assert "reports/vendor/chart-4.6.1.umd.min.js" in manifest
    assert "admin/css/base.css" in manifest


def second_factor_required(**env: str) -> bool:
    result = run_manage("shell", "-c", "from django.conf import settings; print(settings.OTP_REQUIRED_FOR_PRIVILEGED)",
                        **env)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip().splitlines()[-1] == "True"


def test_it_requires_a_second_factor_for_privileged_staff_in_production_only():
    production = {**PRODUCTION, "CACHE_URL": "redis://127.0.0.1:6379/2"}
    assert second_factor_required(**production) is True
    assert second_factor_required() is False  # make run: the demo logins sign in with a password
    assert second_factor_required(OTP_REQUIRED_FOR_PRIVILEGED="1") is True


def test_it_warns_the_deploy_check_when_production_turns_the_second_factor_off():
    result = run_manage("check", "--deploy", "--fail-level", "WARNING", **PRODUCTION,
                        CACHE_URL="redis://127.0.0.1:6379/2", OTP_REQUIRED_FOR_PRIVILEGED="0")
    assert result.returncode != 0
    assert "backoffice.W001" in result.stderr and "OTP_REQUIRED_FOR_PRIVILEGED is off" in result.stderr
