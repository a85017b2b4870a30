"""The site's URLs plus views that fail, to see what users see when code or the
database breaks, and a middleware that reads the database before any other."""

from django.db import connection, transaction
from django.urls import path

from cases.models import User
from redqueen.urls import urlpatterns as site_urlpatterns


def boom(request):
    return 1 / 0


def failing_query(request):
    """A query that fails on a working connection: PostgreSQL cancels it at its statement
    timeout (an OperationalError, like a deadlock); SQLite finds no such table."""
    with transaction.atomic(), connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SET LOCAL statement_timeout = 1")
            cursor.execute("SELECT pg_sleep(1)")
        else:
            cursor.execute("SELECT * FROM no_such_table")


def connection_cut(request):
    """PostgreSQL ends this request's connection inside a transaction, as a restart or a
    fail-over does; leaving the transaction, Django opens a new connection."""
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SELECT pg_terminate_backend(pg_backend_pid())")


def database_first_middleware(get_response):
    """Reads the database in the middleware itself, before the view and the other
    middleware, as a session or authentication middleware may."""

    def middleware(request):
        User.objects.exists()
        return get_response(request)

    return middleware


urlpatterns = [
    path("boom/", boom),
    path("failing-query/", failing_query),
    path("connection-cut/", connection_cut),
    *site_urlpatterns,
]

handler500 = "cases.views.errors.server_error"
handler404 = "cases.views.errors.page_not_found"
