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
    not BUILD_SECONDS); what the process built it still keeps."""
    dead = {
        "default": {
            "BACKEND": "redqueen.cache.TolerantRedisCache",
            "LOCATION": "redis://127.0.0.1:1/0",  # Nothing listens there.
        }
    }
    made = []
    with override_settings(CACHES=dead):
        started = time.monotonic()
        for n in range(3):
            assert kept(f"k:away{n}", lambda: made.append(1) or "fresh") == "fresh"
            assert kept(f"k:away{n}", lambda: made.append(1) or "again") == "fresh"
        assert time.monotonic() - started < BUILD_SECONDS
    assert len(made) == 3


def test_a_process_serves_again_what_it_kept_without_asking_the_cache(monkeypatch):
    """A page asked again in the same process is served from its own copy: neither a
    round trip to Redis nor an unpickling of a thread's outline."""
    assert kept("k:near", lambda: ["outline"]) == ["outline"]
    asked = []
    real_get = http.cache.get
    monkeypatch.setattr(http.cache, "get", lambda *a, **k: asked.append(a) or real_get(*a, **k))
    assert kept("k:near", lambda: ["built again"]) == ["outline"]
    assert asked == []
    # Another process's copy (here: this one's forgotten) comes from the cache once.
    http._near.clear()
    assert kept("k:near", lambda: ["built again"]) == ["outline"]
    assert kept("k:near", lambda: ["built again"]) == ["outline"]
    assert len(asked) == 1


def test_a_process_copy_goes_when_the_caches_does(monkeypatch):
    """What the key does not fold in (a student renamed) is no older in a process's
    copy than in the cache: both go KEPT_SECONDS after it was made, and it is made
    again."""
    assert kept("k:aging", lambda: "made at first") == "made at first"
    http._near.clear()
    assert kept("k:aging", lambda: "made again") == "made at first"  # Read, then copied.
    later = time.time() + http.KEPT_SECONDS + 1
    monkeypatch.setattr(time, "time", lambda: later)
    assert kept("k:aging", lambda: "made again") == "made again"


def test_a_process_keeps_the_most_recently_used_copies_only(monkeypatch):
    monkeypatch.setattr(http._near, "size", 2)
    for key in ("k:a", "k:b"):
        kept(key, lambda key=key: key)
    kept("k:a", lambda: "unused")  # Used again: the most recent now.
    kept("k:c", lambda: "k:c")  # Pushes out k:b, the least recently used.
    names = list(http._near._values)
    assert names == [http._kept_name("k:a"), http._kept_name("k:c")]
