import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def run_manage(*args: str, **env: str) -> subprocess.CompletedProcess:
    # Only this project's variables are set explicitly; anything the test session exported stays out.
    ignored = {"DJANGO_ENV", "SECRET_KEY", "DEBUG", "ALLOWED_HOSTS", "DJANGO_ALLOW_ASYNC_UNSAFE"}
    environment = {k: v for k, v in os.environ.items() if k not in ignored}
    environment.update(env)
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=environment, capture_output=True, text=True, timeout=120
    )


def test_it_passes_the_deploy_check_in_production_mode():
    result = run_manage(
        "check", "--deploy", "--fail-level", "WARNING",
        DJANGO_ENV="production",
        SECRET_KEY="k" * 20 + "production-secret-with-enough-entropy-9f8e7d6c5b4a",
        ALLOWED_HOSTS="refunds.example.com",
    )
    assert result.returncode == 0, result.stderr + result.stdout
    assert "no issues" in result.stdout


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
