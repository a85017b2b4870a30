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


def test_an_unreachable_redis_reads_as_a_miss_and_pages_still_work(client, django_user_model):
    """Sessions are written through to the database: with Redis gone a signed-in page
    is served from the table, not a 500."""
    from django.test import override_settings

    dead = {
        "default": {
            "BACKEND": "redqueen.cache.TolerantRedisCache",
            "LOCATION": "redis://127.0.0.1:1/0",  # Nothing listens there.
        }
    }
    user = django_user_model.objects.create_user("mei", password="a-long-passphrase-1")
    with override_settings(
        CACHES=dead, SESSION_ENGINE="django.contrib.sessions.backends.cached_db"
    ):
        from django.core.cache import cache

        assert cache.get("anything", "missed") == "missed"
        cache.set("anything", 1)  # Skipped, not raised.
        assert (
            client.post(
                "/login/", {"username": "mei", "password": "a-long-passphrase-1"}
            ).status_code
            == 302
        )
        assert client.get("/", follow=True).status_code == 200
        assert client.get("/").wsgi_request.user == user
