"""The Redis cache, made safe to lose. Sessions are read through it (cached_db) and
written through to the database, so a Redis that is down, restarting or unreachable
must read as a cache miss, not fail every signed-in page; the short timeouts keep a
host that blackholes packets from holding requests for seconds."""

import functools
import logging

from django.core.cache.backends.base import DEFAULT_TIMEOUT
from django.core.cache.backends.redis import RedisCache, RedisCacheClient
from redis.exceptions import ConnectionError, TimeoutError

logger = logging.getLogger(__name__)
UNAVAILABLE = (ConnectionError, TimeoutError)
TIMEOUTS = {"socket_connect_timeout": 0.5, "socket_timeout": 0.5}


def _or(fallback):
    """The method, or `fallback(*its arguments)` with a warning while Redis is
    unreachable."""

    def decorate(method):
        @functools.wraps(method)
        def tolerant(self, *args, **kwargs):
            try:
                return method(self, *args, **kwargs)
            except UNAVAILABLE as error:
                logger.warning(
                    "Redis unavailable (%s): %s; the cache reads as empty", method.__name__, error
                )
                return fallback(*args, **kwargs)

        return tolerant

    return decorate


class OneClientPerPool(RedisCacheClient):
    """Django's client makes a redis-py client for every call (45 µs here, most of it
    the client's table of reply handlers), a few times a page. One client per pool
    serves every call and thread: a redis-py client takes a pooled connection for each
    command."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._clients = {}

    def get_client(self, key=None, *, write=False):
        pool = self._get_connection_pool(write)
        client = self._clients.get(pool)
        if client is None:
            client = self._clients.setdefault(pool, self._client(connection_pool=pool))
        return client


class TolerantRedisCache(RedisCache):
    """Reads miss and writes are skipped while Redis is unreachable, with a warning."""

    def __init__(self, server, params):
        params = {**params, "OPTIONS": {**TIMEOUTS, **params.get("OPTIONS", {})}}
        super().__init__(server, params)
        self._class = OneClientPerPool

    @_or(lambda key, default=None, version=None: default)
    def get(self, key, default=None, version=None):
        return super().get(key, default, version)

    @_or(lambda keys, version=None: {})
    def get_many(self, keys, version=None):
        return super().get_many(keys, version)

    @_or(lambda key, version=None: False)
    def has_key(self, key, version=None):
        return super().has_key(key, version)

    @_or(lambda key, value, timeout=DEFAULT_TIMEOUT, version=None: None)
    def set(self, key, value, timeout=DEFAULT_TIMEOUT, version=None):
        super().set(key, value, timeout, version)

    @_or(lambda key, value, timeout=DEFAULT_TIMEOUT, version=None: False)
    def add(self, key, value, timeout=DEFAULT_TIMEOUT, version=None):
        return super().add(key, value, timeout, version)

    @_or(lambda data, timeout=DEFAULT_TIMEOUT, version=None: list(data))
    def set_many(self, data, timeout=DEFAULT_TIMEOUT, version=None):
        return super().set_many(data, timeout, version)

    @_or(lambda key, version=None: False)
    def delete(self, key, version=None):
        return super().delete(key, version)

    @_or(lambda keys, version=None: None)
    def delete_many(self, keys, version=None):
        return super().delete_many(keys, version)
