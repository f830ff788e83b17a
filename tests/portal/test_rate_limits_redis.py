"""The portal's rate limits counted in Redis, as production counts them (skipped without Redis)."""

from __future__ import annotations

import secrets

import pytest
from django.core.cache import caches

from portal import limits
from tests.outbox.test_real_worker import redis_is_up

pytestmark = pytest.mark.skipif(not redis_is_up(), reason="no Redis on 127.0.0.1:6379")


@pytest.fixture
def redis_cache(settings):
    prefix = "test-limits-" + secrets.token_hex(6)  # keys of this test's own on the shared Redis
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache",
                                   "LOCATION": "redis://127.0.0.1:6379/11", "KEY_PREFIX": prefix}}
    settings.PORTAL_RATE_LIMITS = {"request_email": (2, 3600)}
    cache = caches["default"]
    yield cache
    client = cache._cache.get_client(None, write=True)
    for key in client.scan_iter(f"{prefix}:*"):
        client.delete(key)


def test_it_refuses_the_use_past_the_limit_and_says_when_to_come_back(redis_cache):
    limits.hit("request_email", "a@example.com")
    limits.hit("request_email", "A@example.com")  # the same address, whatever its case
    with pytest.raises(limits.Limited) as refused:
        limits.hit("request_email", "a@example.com")
    assert 0 < refused.value.retry_after <= 3600
    limits.hit("request_email", "b@example.com")  # another address has its own count


def test_it_lets_the_counter_expire_with_its_window(redis_cache):
    limits.hit("request_email", "a@example.com", cost=2)
    client = redis_cache._cache.get_client(None, write=True)
    [key] = list(client.scan_iter(f"{redis_cache.key_prefix}:*"))
    assert 0 < client.ttl(key) <= 3600
    assert redis_cache.get(key.decode().split(":", 2)[2]) == 2  # the cache API reads the same counter
