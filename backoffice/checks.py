"""System checks for a production configuration that Django's own checks do not know about."""

from __future__ import annotations

from django.conf import settings
from django.core.checks import Error, Tags, Warning, register

# Caches whose counts every worker process and every server sees.
SHARED_CACHES = {
    "django.core.cache.backends.redis.RedisCache",
    "django.core.cache.backends.memcached.PyMemcacheCache",
    "django.core.cache.backends.memcached.PyLibMCCache",
    "django.core.cache.backends.db.DatabaseCache",
}


@register()
def rate_limits_need_a_shared_cache(app_configs=None, **kwargs) -> list[Error]:
    """Per-process counters multiply every limit by the number of worker processes and servers."""
    if not getattr(settings, "PRODUCTION", not settings.DEBUG) or getattr(settings, "RATE_LIMITS_SINGLE_PROCESS", False):
        return []
    alias = getattr(settings, "PORTAL_RATE_LIMIT_CACHE", "default")
    backend = settings.CACHES.get(alias, {}).get("BACKEND", "")
    if backend in SHARED_CACHES:
        return []
    return [Error(
        "The portal's rate limits need a cache that every worker process and server shares; the cache in "
        "use keeps its counts in each process's own memory, so every limit would be multiplied.",
        hint="Set CACHE_URL to a Redis server (redis://host:6379/2). A deploy that runs one single "
             "process may set RATE_LIMITS_SINGLE_PROCESS=1 instead.",
        id="backoffice.E001",
    )]


@register(Tags.security, deploy=True)
def second_factor_required_in_production(app_configs=None, **kwargs) -> list[Warning]:
    """Staff who approve exceptions, pay or publish sign in with a second factor in production (0051)."""
    if not getattr(settings, "PRODUCTION", not settings.DEBUG) or settings.OTP_REQUIRED_FOR_PRIVILEGED:
        return []
    return [Warning(
        "OTP_REQUIRED_FOR_PRIVILEGED is off: staff who can approve exceptions, pay refunds or publish a "
        "policy sign in with a password alone.",
        hint="Unset OTP_REQUIRED_FOR_PRIVILEGED (it is on by default in production); docs/two-factor.md.",
        id="backoffice.W001",
    )]


@register()
def connection_keys(app_configs=None, **kwargs) -> list[Error]:
    """The shops' secrets are encrypted with CONNECTION_KEYS: required in production, and usable keys anywhere.

    A local run without them uses a key derived from SECRET_KEY; in production that would tie the
    secrets to SECRET_KEY, so rotating one would lose the other.
    """
    from shop.keys import key_problems

    keys = getattr(settings, "CONNECTION_KEYS", [])
    errors = [Error(problem, hint="Make one with: python -c 'from cryptography.fernet import Fernet; "
                                  "print(Fernet.generate_key().decode())'", id="backoffice.E003")
              for problem in key_problems(keys)]
    if not keys and getattr(settings, "PRODUCTION", not settings.DEBUG):
        errors.append(Error(
            "CONNECTION_KEYS is not set: the shops' credentials and webhook secrets need their own encryption key "
            "in production.",
            hint="Set CONNECTION_KEYS to a Fernet key (comma-separated, newest first, when rotating; docs/shop.md).",
            id="backoffice.E002",
        ))
    return errors
