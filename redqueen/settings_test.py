"""The test suite's settings: the production module, told that it runs the tests.

pytest names this module (pyproject.toml); `DJANGO_TESTING` switches on what only tests
want (a fast password hasher, the immediate task backend, no HTTPS redirect) and lets
the suite run without production secrets."""

import atexit
import os
import shutil
import tempfile
from pathlib import Path

os.environ["DJANGO_TESTING"] = "1"

from redqueen.settings import *  # noqa: F403
from redqueen.settings import STORAGES

# Files the tests hand in go to a folder of this run's own, on local disk whatever the
# environment says, and never into the repository.
MEDIA_ROOT = Path(tempfile.mkdtemp(prefix="redqueen-test-media-"))
atexit.register(shutil.rmtree, MEDIA_ROOT, ignore_errors=True)
STORAGES = STORAGES | {"default": {"BACKEND": "django.core.files.storage.FileSystemStorage"}}
