"""Settings for a negative control of `make scale-out`: production's, with sessions read
through each process's own memory (as they were before sessions without REDIS_URL moved
to the database alone). A sign-out then reaches only the process that made it, which
the scale-out check must catch."""

from redqueen.settings import *  # noqa: F403

CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
SESSION_ENGINE = "django.contrib.sessions.backends.cached_db"
