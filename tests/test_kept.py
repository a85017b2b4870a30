"""`kept` (cases/http.py): made once per key, also when many ask at once."""

import threading
import time

from django.test import override_settings

from cases import http
from cases.http import BUILD_SECONDS, kept


def test_what_is_kept_is_made_once_and_a_new_key_makes_it_again():
    made = []
    assert kept("k:v1", lambda: made.append(1) or "one") == "one"
    assert kept("k:v1", lambda: made.append(1) or "other") == "one"
    assert kept("k:v2", lambda: made.append(1) or "two") == "two"
    assert len(made) == 2


def test_a_release_with_other_code_does_not_read_what_an_older_one_kept(monkeypatch):
    """Two releases share the cache while one rolls out: the newer builds its own."""
    assert kept("k:v1", lambda: {"html": "old markup"}) == {"html": "old markup"}
    monkeypatch.setattr(http, "code_version", lambda: "another release")
    assert kept("k:v1", lambda: {"html": "new", "mine": {}}) == {"html": "new", "mine": {}}


def test_requests_asking_while_it_is_built_wait_for_it_instead_of_building_it():
    building, release, made, got = threading.Event(), threading.Event(), [], []

    def slow():
        made.append(1)
        building.set()
        release.wait(5)
        return "grid"

    first = threading.Thread(target=lambda: got.append(kept("k:busy", slow)))
    first.start()
    building.wait(5)
    others = [threading.Thread(target=lambda: got.append(kept("k:busy", slow))) for _ in range(3)]
    for thread in others:
        thread.start()
    release.set()
    for thread in [first, *others]:
        thread.join(5)
    assert got == ["grid"] * 4 and len(made) == 1


def test_with_redis_away_each_request_builds_without_waiting():
    """Redis unreachable: no builder shows, so nobody waits (a request costs its build,
    not BUILD_SECONDS)."""
    dead = {
        "default": {
            "BACKEND": "redqueen.cache.TolerantRedisCache",
            "LOCATION": "redis://127.0.0.1:1/0",  # Nothing listens there.
        }
    }
    made = []
    with override_settings(CACHES=dead):
        started = time.monotonic()
        for _ in range(3):
            assert kept("k:away", lambda: made.append(1) or "fresh") == "fresh"
        assert time.monotonic() - started < BUILD_SECONDS
    assert len(made) == 3
