"""Django set up with production settings (DEBUG off) for the benchmarks, over plain
HTTP: the clients speak HTTP to the app directly, with no TLS proxy in front."""

import os
import sys
from pathlib import Path


def setup(**defaults: str) -> None:
    """Configure and start Django; `defaults` are environment variables (such as
    DATABASE_URL) used unless the environment sets them."""
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "redqueen.settings")
    os.environ.setdefault("DJANGO_SECRET_KEY", "bench-only-not-a-secret")
    os.environ.setdefault("DJANGO_ALLOWED_HOSTS", "127.0.0.1")
    os.environ.setdefault("DJANGO_SECURE_SSL_REDIRECT", "0")
    for name, value in defaults.items():
        os.environ.setdefault(name, value)

    import django

    django.setup()
