"""The settings `make bench` serves the app with: production's, plus two reference
views through the same middleware and login (benchurls.py), and headers that count
each request's queries (one execute wrapper: microseconds) and its CPU time.

gunicorn loads it with `--pythonpath bench` and DJANGO_SETTINGS_MODULE=benchsite.
"""

from redqueen.settings import *  # noqa: F403
from redqueen.settings import MIDDLEWARE

ROOT_URLCONF = "benchurls"
MIDDLEWARE = ["benchurls.count_queries", *MIDDLEWARE]
