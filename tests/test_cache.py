"""With REDIS_URL set the cache (and so the sessions read through it) is Redis: the
client library must be installed, and the backend must work against a real server."""

import pytest


def test_the_redis_cache_backend_works_when_configured():
    """Our backend against a real server, its one client shared by threads at once."""
    from concurrent.futures import ThreadPoolExecutor

    import redis  # A missing requirement fails here, not on a production request.

    from redqueen.cache import TolerantRedisCache

    cache = TolerantRedisCache("redis://127.0.0.1:6379/9", {"KEY_PREFIX": "redqueen-test"})
    try:
        redis.Redis.from_url("redis://127.0.0.1:6379/9").ping()
    except redis.exceptions.ConnectionError:
        pytest.skip("no Redis server on 127.0.0.1:6379")
    cache.set("ping", "pong", 5)
    assert cache.get("ping") == "pong"
    cache.delete("ping")

    def round_trips(thread: int) -> list:
        seen = []
        for n in range(50):
            cache.set(f"t{thread}", (thread, n), 5)
            seen.append(cache.get(f"t{thread}"))
        return seen

    with ThreadPoolExecutor(8) as pool:
        for thread, seen in enumerate(pool.map(round_trips, range(8))):
            assert seen == [(thread, n) for n in range(50)]
    cache.delete_many([f"t{thread}" for thread in range(8)])


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
