"""Red Queen settings: one module, configured by environment variables.

Production is the default: with DJANGO_DEBUG unset the site refuses to start without a
real DJANGO_SECRET_KEY and DJANGO_ALLOWED_HOSTS. `make run` turns debug on for the demo.
The README lists every variable.
"""

import os
import sys
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

from django.core.exceptions import ImproperlyConfigured
from django.utils.csp import CSP

BASE_DIR = Path(__file__).resolve().parent.parent


def env_bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: str = "") -> list[str]:
    return [part.strip() for part in os.environ.get(name, default).split(",") if part.strip()]


def database_from_url(url: str) -> dict:
    """Turn DATABASE_URL (sqlite:///path or postgres://user:pass@host:port/name) into
    Django's DATABASES entry."""
    parts = urlsplit(url)
    if parts.scheme == "sqlite":
        path = unquote(parts.path)
        # sqlite:///relative.db is relative to the project; sqlite:////abs/path is absolute.
        name = Path(path[1:])
        return {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": name if name.is_absolute() else BASE_DIR / name,
            "OPTIONS": {"transaction_mode": "IMMEDIATE", "timeout": 20},
        }
    if parts.scheme in {"postgres", "postgresql", "pgsql"}:
        options = {key: values[-1] for key, values in parse_qs(parts.query).items()}
        database = {
            # Django's backend, with a health check that costs no round trip.
            "ENGINE": "redqueen.postgresql",
            "NAME": unquote(parts.path.lstrip("/")),
            "USER": unquote(parts.username or ""),
            "PASSWORD": unquote(parts.password or ""),
            "HOST": parts.hostname or "",
            "PORT": str(parts.port or ""),
            "OPTIONS": options,
            # Persistent connections: opening one costs more than most of our pages.
            # Behind a transaction pooler they are connections to the pooler, which
            # lends a server connection for each transaction only, so they stay.
            "CONN_MAX_AGE": int(os.environ.get("DJANGO_CONN_MAX_AGE", "600")),
            # A reused connection is checked before the request's first query, so a
            # restarted PostgreSQL (or pooler) costs a reconnect, not an error page
            # (checked by reading the socket, not by asking: redqueen/postgresql).
            "CONN_HEALTH_CHECKS": True,
        }
        # Parameters bound by the server, and a statement a connection has run five
        # times kept prepared: PostgreSQL plans a page's queries once per connection
        # instead of once per request, which halves its CPU on our pages (planning
        # the access checks' subqueries costs more than running them; see
        # docs/benchmarks.md). DJANGO_DB_PREPARED_STATEMENTS=0 turns preparing off.
        options.setdefault("server_side_binding", True)
        if env_bool("DJANGO_DB_PREPARED_STATEMENTS", True):
            options.setdefault("prepare_threshold", 5)
        if env_bool("DJANGO_DB_TRANSACTION_POOLING"):
            transaction_pooling(database)
        return database
    raise ImproperlyConfigured(f"DATABASE_URL has an unsupported scheme: {parts.scheme!r}")


def transaction_pooling(database: dict) -> None:
    """Make a PostgreSQL entry safe behind a pooler in transaction mode (PgBouncer's
    `pool_mode = transaction`), where each transaction may run on a different server
    connection and nothing a session leaves on one outlives the transaction.

    - No server-side cursors: `QuerySet.iterator()` would declare a cursor WITH HOLD on
      one server connection and fetch from it on whichever comes next.
    - No prepared statements: psycopg would prepare on one server connection and
      execute on another. Django 6 leaves them off unless OPTIONS asks; this holds
      them off even if the URL's query asks (PgBouncer before 1.21 cannot route them).
    - No psycopg pool in the process (OPTIONS `pool`): the pooler is the pool, and two
      pools would hold server connections twice over.
    """
    if database["OPTIONS"].get("pool"):
        raise ImproperlyConfigured(
            "DJANGO_DB_TRANSACTION_POOLING is set: leave psycopg's pool (pool= in "
            "DATABASE_URL) off, the pooler in front of PostgreSQL does the pooling."
        )
    database["DISABLE_SERVER_SIDE_CURSORS"] = True
    database["OPTIONS"]["prepare_threshold"] = None


# The test suite says so itself (redqueen/settings_test.py sets DJANGO_TESTING): never
# guessed from what a process has imported, so nothing in production turns test-only
# shortcuts on by accident.
TESTING = env_bool("DJANGO_TESTING", False)
DEBUG = env_bool("DJANGO_DEBUG", False)
# Commands that never serve a request and need no secrets, so that checks such as
# `manage.py makemigrations --check` run on a bare checkout.
NEEDS_NO_SECRETS = TESTING or sys.argv[1:2] == ["makemigrations"]

SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "")
if not SECRET_KEY:
    if not (DEBUG or NEEDS_NO_SECRETS):
        raise ImproperlyConfigured(
            "Set DJANGO_SECRET_KEY (or DJANGO_DEBUG=1 for local development)."
        )
    SECRET_KEY = "django-insecure-development-only-key-never-use-in-production"  # noqa: S105

ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS", "127.0.0.1,localhost" if DEBUG else "")
if not ALLOWED_HOSTS and not NEEDS_NO_SECRETS:
    raise ImproperlyConfigured("Set DJANGO_ALLOWED_HOSTS, e.g. redqueen.example.edu")
CSRF_TRUSTED_ORIGINS = env_list("DJANGO_CSRF_TRUSTED_ORIGINS")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django_htmx",
    # Always installed, whichever task backend runs, so its table exists everywhere and
    # `makemigrations --check` sees the same apps in development and production.
    "django_tasks_db",
    # LTI 1.3 (django-lti on PyLTI1p3): platform registrations, deployments, keys and
    # the LMS's users, courses and memberships. Red Queen's side is cases/services/lti.py.
    "lti_tool",
    "cases",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.middleware.csp.ContentSecurityPolicyMiddleware",
    "cases.middleware.NulStripMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "cases.middleware.SignedInUserMiddleware",
    "cases.middleware.PrivateByDefaultMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "cases.middleware.LoginRequiredMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "cases.middleware.CourseTimeZoneMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last, so its response pass runs first: an LTI session's pages may be framed by
    # the one LMS that launched it (CSP frame-ancestors), and by nothing else.
    "cases.middleware.LtiFrameMiddleware",
]

ROOT_URLCONF = "redqueen.urls"
WSGI_APPLICATION = "redqueen.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.csp",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "cases.context_processors.navigation",
            ],
            # `{% url %}` from patterns reversed once a process (cases/templatetags/routes.py).
            "builtins": ["cases.templatetags.routes"],
        },
    },
    {
        # The hottest loops only, called from Django templates (redqueen/jinja2.py).
        "BACKEND": "django.template.backends.jinja2.Jinja2",
        "NAME": "jinja2",
        "DIRS": [BASE_DIR / "templates" / "jinja2"],
        "APP_DIRS": False,
        "OPTIONS": {"environment": "redqueen.jinja2.environment", "autoescape": True},
    },
]

DATABASES = {
    "default": database_from_url(os.environ.get("DATABASE_URL", "sqlite:///db.sqlite3")),
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "cases.User"

# Redis when REDIS_URL is set, else each process's local memory. Nothing relies on the
# cache for correctness (login throttling lives in the database). Redis down reads as a
# miss (redqueen/cache.py), so losing it costs speed, not service.
if os.environ.get("REDIS_URL"):
    CACHES = {
        "default": {
            "BACKEND": "redqueen.cache.TolerantRedisCache",
            "LOCATION": os.environ["REDIS_URL"],
            "KEY_PREFIX": "redqueen",
        }
    }
    # Sessions are read from Redis and written through to the database: a page saves a
    # query, and a miss (or a restarted Redis) falls back to the table.
    SESSION_ENGINE = "django.contrib.sessions.backends.cached_db"
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    # Without a shared cache, sessions live in the database alone: a session cached in
    # one process's memory would outlive a sign-out made through another process. Tests
    # run in one process and count queries as a deployment with Redis makes them.
    SESSION_ENGINE = "django.contrib.sessions.backends." + ("cached_db" if TESTING else "db")

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
if TESTING:
    # Hashing is deliberately slow; tests create hundreds of users.
    PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

# Every sign-in (this site's page, the Django admin's) goes through the throttle.
AUTHENTICATION_BACKENDS = ["cases.backends.ThrottledModelBackend"]

LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "cases:home"
LOGOUT_REDIRECT_URL = "login"

# Login throttling: this many failures for one username from one address within the
# window locks further attempts from there until the window has passed (see
# cases/services/auth.py for the wider per-username and per-address limits).
LOGIN_FAILURE_LIMIT = int(os.environ.get("DJANGO_LOGIN_FAILURE_LIMIT", "5"))
LOGIN_FAILURE_WINDOW_SECONDS = int(os.environ.get("DJANGO_LOGIN_FAILURE_WINDOW", "900"))
# Join codes: this many wrong codes from one account, or from one address (a campus NAT
# puts a class behind one, and eight random characters cannot be guessed at this rate),
# within the login window refuse codes from there until the window has passed.
JOIN_CODE_FAILURE_LIMIT = int(os.environ.get("DJANGO_JOIN_CODE_FAILURE_LIMIT", "10"))
JOIN_CODE_ADDRESS_LIMIT = int(os.environ.get("DJANGO_JOIN_CODE_ADDRESS_LIMIT", "50"))
# Sign-ups (each sends an email) from one address within the window: enough for a class
# signing up from one campus address in its first lecture.
SIGNUP_LIMIT = int(os.environ.get("DJANGO_SIGNUP_LIMIT", "100"))
SIGNUP_WINDOW_SECONDS = int(os.environ.get("DJANGO_SIGNUP_WINDOW", "3600"))
# How many proxies we trust to append to X-Forwarded-For (0: use REMOTE_ADDR).
TRUSTED_PROXY_HOPS = int(os.environ.get("DJANGO_TRUSTED_PROXY_HOPS", "0"))

# A timed quiz attempt accepts answers this long past its deadline (network delays),
# then closes with what was saved.
QUIZ_GRACE_SECONDS = int(os.environ.get("DJANGO_QUIZ_GRACE_SECONDS", "30"))

# Discussion posts one person may write a minute (replies included).
POSTS_PER_MINUTE = int(os.environ.get("DJANGO_POSTS_PER_MINUTE", "10"))
# Notes on cases (and replies to them) one person may write a minute.
ANNOTATIONS_PER_MINUTE = int(os.environ.get("DJANGO_ANNOTATIONS_PER_MINUTE", "12"))

LANGUAGE_CODE = "en-us"
TIME_ZONE = os.environ.get("DJANGO_TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
# Development and tests serve from the app folders; production from collectstatic.
WHITENOISE_AUTOREFRESH = DEBUG or TESTING
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG or TESTING
            else "redqueen.staticfiles.KeptManifestStaticFilesStorage"
        )
    },
}

# Files students hand in (memos as PDF or Word). They are never served by an address of
# their own: no MEDIA_URL is routed, and the app streams each file to those who may read
# it (cases.views.memo_files). On local disk under DJANGO_MEDIA_ROOT by default; with
# DJANGO_STORAGE_BUCKET in a private S3-compatible bucket, which every app host shares.
MEDIA_ROOT = Path(os.environ.get("DJANGO_MEDIA_ROOT") or BASE_DIR / "media")
MEMO_MAX_BYTES = int(os.environ.get("DJANGO_MEMO_MAX_BYTES", str(10 * 1024 * 1024)))
if os.environ.get("DJANGO_STORAGE_BUCKET"):
    # Credentials come from boto3's usual places (AWS_ACCESS_KEY_ID and
    # AWS_SECRET_ACCESS_KEY, or the host's role). No ACL is set on objects, so they
    # stay as private as the bucket; nothing links to the bucket directly.
    STORAGES["default"] = {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": os.environ["DJANGO_STORAGE_BUCKET"],
            "endpoint_url": os.environ.get("DJANGO_STORAGE_ENDPOINT_URL") or None,
            "region_name": os.environ.get("DJANGO_STORAGE_REGION") or None,
            "default_acl": None,
            "querystring_auth": True,
            "file_overwrite": False,
        },
    }

# Background work (emails) goes through Django's tasks framework. Immediate in development
# and tests: a task runs in the process that enqueues it, after the transaction commits.
# In production (DJANGO_DEBUG unset) the database backend: `enqueue` only stores the task
# and `manage.py db_worker`, a process beside gunicorn, runs it, so no request sends mail.
# DJANGO_TASKS_BACKEND=immediate or =database overrides either default.
TASK_BACKENDS = {
    "immediate": "django.tasks.backends.immediate.ImmediateBackend",
    "database": "django_tasks_db.DatabaseBackend",
}
TASKS_BACKEND_NAME = os.environ.get(
    "DJANGO_TASKS_BACKEND", "immediate" if DEBUG or TESTING else "database"
)
if TASKS_BACKEND_NAME not in TASK_BACKENDS:
    raise ImproperlyConfigured(
        f"DJANGO_TASKS_BACKEND must be immediate or database, not {TASKS_BACKEND_NAME!r}"
    )
TASKS = {"default": {"BACKEND": TASK_BACKENDS[TASKS_BACKEND_NAME]}}

# Email: the console in development, SMTP from the environment otherwise.
# The site's address, for links in emails sent outside a request (invitations).
SITE_URL = os.environ.get("DJANGO_SITE_URL", "http://127.0.0.1:8000")
DEFAULT_FROM_EMAIL = os.environ.get("DJANGO_DEFAULT_FROM_EMAIL", "Red Queen <noreply@localhost>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL
if DEBUG:
    MAILERS = {"default": {"BACKEND": "django.core.mail.backends.console.EmailBackend"}}
else:
    MAILERS = {
        "default": {
            "BACKEND": "django.core.mail.backends.smtp.EmailBackend",
            "OPTIONS": {
                "host": os.environ.get("DJANGO_EMAIL_HOST", "localhost"),
                "port": int(os.environ.get("DJANGO_EMAIL_PORT", "587")),
                "username": os.environ.get("DJANGO_EMAIL_HOST_USER", ""),
                "password": os.environ.get("DJANGO_EMAIL_HOST_PASSWORD", ""),
                "use_tls": env_bool("DJANGO_EMAIL_USE_TLS", True),
                "timeout": 10,
            },
        }
    }

# Security. Behind a TLS-terminating proxy set DJANGO_SECURE_PROXY_SSL_HEADER=1.
SECURE_CSP = {
    "default-src": [CSP.SELF],
    "script-src": [CSP.SELF, CSP.NONCE],
    "style-src": [CSP.SELF],
    "img-src": [CSP.SELF, "data:"],
    "font-src": [CSP.SELF],
    "connect-src": [CSP.SELF],
    "form-action": [CSP.SELF],
    "frame-ancestors": [CSP.NONE],
    "base-uri": [CSP.NONE],
    "object-src": [CSP.NONE],
}
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"
if not DEBUG:
    SECURE_SSL_REDIRECT = env_bool("DJANGO_SECURE_SSL_REDIRECT", not TESTING)
    # Load balancers probe app hosts over plain HTTP.
    SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    # Inside an LMS (LTI), Red Queen's pages sit in the LMS's frame, another site: the
    # cookies must then be sent cross-site (CSRF tokens still guard every form). Set
    # REDQUEEN_LTI_FRAMES=0 where Red Queen is never framed by an LMS.
    if env_bool("REDQUEEN_LTI_FRAMES", True):
        SESSION_COOKIE_SAMESITE = CSRF_COOKIE_SAMESITE = "None"
    SECURE_HSTS_SECONDS = int(os.environ.get("DJANGO_HSTS_SECONDS", str(60 * 60 * 24 * 365)))
    SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("DJANGO_HSTS_INCLUDE_SUBDOMAINS", True)
    # Off unless asked for: preloading commits the whole domain to HTTPS in browsers'
    # built-in lists, which takes months to undo. `check --deploy` would warn about it
    # (security.W021), so that check is silenced below for as long as it is off.
    SECURE_HSTS_PRELOAD = env_bool("DJANGO_HSTS_PRELOAD", False)
    if not SECURE_HSTS_PRELOAD:
        SILENCED_SYSTEM_CHECKS = ["security.W021"]
if env_bool("DJANGO_SECURE_PROXY_SSL_HEADER"):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("DJANGO_LOG_LEVEL", "INFO")},
}
