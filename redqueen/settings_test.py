"""The test suite's settings: the production module, told that it runs the tests.

pytest names this module (pyproject.toml); `DJANGO_TESTING` switches on what only tests
want (a fast password hasher, the immediate task backend, no HTTPS redirect) and lets
the suite run without production secrets."""

import os

os.environ["DJANGO_TESTING"] = "1"

from redqueen.settings import *  # noqa: F403
