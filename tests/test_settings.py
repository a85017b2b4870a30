"""Settings are production's unless the test suite says otherwise."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _settings(script: str, **env: str) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "DATABASE"))}
    return subprocess.run(  # noqa: S603 (our own interpreter and script)
        [sys.executable, "-c", script],
        cwd=ROOT,
        env=clean | {"DJANGO_SETTINGS_MODULE": "redqueen.settings"} | env,
        capture_output=True,
        text=True,
        check=False,
    )


def test_a_process_that_imports_pytest_still_gets_production_settings():
    # A worker or a shell that happens to import pytest used to run with the known
    # development key and without the HTTPS redirect.
    script = "import pytest, django; django.setup()"
    result = _settings(script)
    assert result.returncode != 0 and "Set DJANGO_SECRET_KEY" in result.stderr
    script += "; from django.conf import settings; print(settings.SECURE_SSL_REDIRECT)"
    result = _settings(script, DJANGO_SECRET_KEY="x" * 50, DJANGO_ALLOWED_HOSTS="example.edu")
    assert result.stdout.strip() == "True"


def test_hsts_preload_is_left_to_the_operator():
    script = (
        "import django; django.setup(); from django.conf import settings;"
        " print(settings.SECURE_HSTS_PRELOAD, settings.SECURE_HSTS_SECONDS > 0)"
    )
    env = {"DJANGO_SECRET_KEY": "x" * 50, "DJANGO_ALLOWED_HOSTS": "example.edu"}
    assert _settings(script, **env).stdout.strip() == "False True"
    assert _settings(script, DJANGO_HSTS_PRELOAD="1", **env).stdout.strip() == "True True"
