"""With REDIS_URL set the cache (and so the sessions read through it) is Redis: the
client library must be installed, and the backend must work against a real server."""

import pytest
from django.core.cache.backends.redis import RedisCache


def test_the_redis_cache_backend_works_when_configured():
    import redis  # A missing requirement fails here, not on a production request.

    cache = RedisCache("redis://127.0.0.1:6379/9", {"KEY_PREFIX": "redqueen-test"})
    try:
        cache.set("ping", "pong", 5)
    except redis.exceptions.ConnectionError:
        pytest.skip("no Redis server on 127.0.0.1:6379")
    assert cache.get("ping") == "pong"
    cache.delete("ping")
