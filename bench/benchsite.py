"""The settings `make bench` serves the app with: production's, plus two reference
views through the same middleware and login (benchurls.py), and headers that count
each request's queries (one execute wrapper: microseconds) and its CPU time.

gunicorn loads it with `--pythonpath bench` and DJANGO_SETTINGS_MODULE=benchsite.
"""

from redqueen.settings import *  # noqa: F403
from redqueen.settings import MIDDLEWARE

ROOT_URLCONF = "benchurls"
MIDDLEWARE = ["benchurls.count_queries", *MIDDLEWARE]

# wrk loops over its requests as fast as the app answers: in the mix, a student's posts
# (30 lines, each sent three or four times in ten seconds, after the posts' own run)
# can reach the rate limit of 10 a minute, whose refusal (400, by design) would count
# as an error. The limit's query still runs on every post.
POSTS_PER_MINUTE = 1000
