"""Settings are production's unless the test suite says otherwise."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

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


POOLING_SCRIPT = (
    "import django; django.setup(); from django.conf import settings;"
    " from django.db import connection; db = connection.settings_dict;"
    " params = connection.get_connection_params();"
    " print(db.get('DISABLE_SERVER_SIDE_CURSORS', False), 'prepare_threshold' in db['OPTIONS'],"
    " params['prepare_threshold'], db['CONN_MAX_AGE'], db['CONN_HEALTH_CHECKS'],"
    " connection.features.uses_server_side_binding)"
)
PRODUCTION = {"DJANGO_SECRET_KEY": "x" * 50, "DJANGO_ALLOWED_HOSTS": "example.edu"}
BOUNCER = "postgres://app@10.0.0.5:6432/redqueen"


def test_transaction_pooling_turns_off_what_pgbouncer_cannot_route():
    # Straight to PostgreSQL: server-side cursors for .iterator(), parameters bound by
    # the server and statements prepared after five runs, persistent checked
    # connections.
    direct = _settings(POOLING_SCRIPT, DATABASE_URL=BOUNCER, **PRODUCTION)
    assert direct.stdout.split() == ["False", "True", "5", "600", "True", "True"], direct.stderr
    unprepared = _settings(
        POOLING_SCRIPT, DATABASE_URL=BOUNCER, DJANGO_DB_PREPARED_STATEMENTS="0", **PRODUCTION
    )
    assert unprepared.stdout.split()[1:3] == ["False", "None"], unprepared.stderr
    # Through PgBouncer in transaction mode: no server-side cursors, and prepared
    # statements held off even when the URL asks for them (parameters are still bound
    # by the server, in unnamed statements); connections to the pooler stay persistent
    # and checked.
    env = PRODUCTION | {"DJANGO_DB_TRANSACTION_POOLING": "1"}
    pooled = _settings(POOLING_SCRIPT, DATABASE_URL=BOUNCER + "?prepare_threshold=5", **env)
    assert pooled.stdout.split() == ["True", "True", "None", "600", "True", "True"], pooled.stderr
    off = _settings(POOLING_SCRIPT, DATABASE_URL=BOUNCER, DJANGO_DB_TRANSACTION_POOLING="0")
    assert off.returncode != 0  # "0" is off: production settings without secrets refuse.
    off = _settings(
        POOLING_SCRIPT, DATABASE_URL=BOUNCER, DJANGO_DB_TRANSACTION_POOLING="0", **PRODUCTION
    )
    assert off.stdout.split()[0] == "False"


def test_transaction_pooling_refuses_a_second_pool_in_the_process():
    env = PRODUCTION | {"DJANGO_DB_TRANSACTION_POOLING": "1"}
    result = _settings(POOLING_SCRIPT, DATABASE_URL=BOUNCER + "?pool=true", **env)
    assert result.returncode != 0 and "leave psycopg's pool" in result.stderr
    # Without the pooler setting, psycopg's pool is the operator's choice.
    result = _settings(
        "import django; django.setup(); from django.conf import settings;"
        " print(settings.DATABASES['default']['OPTIONS']['pool'])",
        DATABASE_URL=BOUNCER + "?pool=true",
        **PRODUCTION,
    )
    assert result.stdout.strip() == "true", result.stderr


def test_transaction_pooling_leaves_sqlite_alone():
    env = PRODUCTION | {"DJANGO_DB_TRANSACTION_POOLING": "1"}
    script = (
        "import django; django.setup(); from django.conf import settings;"
        " print(settings.DATABASES['default'].get('DISABLE_SERVER_SIDE_CURSORS'))"
    )
    result = _settings(script, DATABASE_URL="sqlite:///x.sqlite3", **env)
    assert result.stdout.strip() == "None", result.stderr


def test_production_static_addresses_are_worked_out_once_and_match_whitenoises(tmp_path):
    """`KeptManifestStaticFilesStorage` (production's) answers what WhiteNoise's
    manifest storage answers, the second time from what it kept; a file missing from
    the manifest is refused each time, as before."""
    from whitenoise.storage import CompressedManifestStaticFilesStorage

    from redqueen.staticfiles import KeptManifestStaticFilesStorage

    manifest = {"version": "1.1", "hash": "x", "paths": {"css/app.css": "css/app.5e1f.css"}}
    (tmp_path / "staticfiles.json").write_text(json.dumps(manifest))
    kept = KeptManifestStaticFilesStorage(location=tmp_path, base_url="/static/")
    plain = CompressedManifestStaticFilesStorage(location=tmp_path, base_url="/static/")
    for _ in range(2):
        assert kept.url("css/app.css") == plain.url("css/app.css") == "/static/css/app.5e1f.css"
        for storage in (kept, plain):
            with pytest.raises(ValueError, match="Missing staticfiles manifest entry"):
                storage.url("js/gone.js")
