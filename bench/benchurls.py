"""The bench server's URLs: the app's, and the two references `make bench` compares
every page with. See benchsite.py."""

import time

from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_required
from django.db import connection
from django.http import HttpResponse
from django.template import engines
from django.urls import include, path

from redqueen.urls import handler400, handler403, handler404, handler500  # noqa: F401


def count_queries(get_response):
    """Adds X-Queries: the queries the request ran, middleware included (a streamed
    body's later queries are not counted); and X-CPU-us: the CPU its thread spent in
    the app, in microseconds (gthread serves a request on one thread)."""

    def middleware(request):
        count = 0
        started = time.thread_time_ns()

        def counter(execute, sql, params, many, context):
            nonlocal count
            count += 1
            return execute(sql, params, many, context)

        with connection.execute_wrapper(counter):
            response = get_response(request)
        response["X-Queries"] = str(count)
        response["X-CPU-us"] = str((time.thread_time_ns() - started) // 1000)
        return response

    return middleware


REFERENCE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Reference</title></head>
<body><table>
<thead><tr>
  <th>Username</th><th>First name</th><th>Last name</th><th>Email</th><th>Joined</th>
</tr></thead>
<tbody>{% for user in users %}
<tr>
  <td>{{ user.username }}</td><td>{{ user.first_name }}</td><td>{{ user.last_name }}</td>
  <td>{{ user.email }}</td><td>{{ user.date_joined|date:"Y-m-d" }}</td>
</tr>
{% endfor %}</tbody></table></body></html>
"""


@login_required
def ok(request):
    """The floor: the stack and the login, no work."""
    return HttpResponse("ok", content_type="text/plain")


@login_required
def reference(request):
    """The yardstick: one query for 50 rows rendered by a plain template."""
    users = get_user_model().objects.order_by("pk")[:50]
    return HttpResponse(_reference.render({"users": users}))  # No context processors.


_reference = engines["django"].from_string(REFERENCE)

urlpatterns = [
    path("bench/ok/", ok),
    path("bench/reference/", reference),
    path("", include("redqueen.urls")),
]
