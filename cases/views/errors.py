"""Error pages: plain pages with a clear message, and for htmx requests the same message
as a fragment swapped into the page's alert region. Never a trace."""

import logging
import sys

from django.db import InterfaceError, OperationalError, connection
from django.http import HttpRequest, HttpResponse
from django.template.loader import render_to_string
from django_htmx.http import reswap, retarget

logger = logging.getLogger("django.request")

MESSAGES = {
    400: ("Bad request", "The request could not be understood. Go back and try again."),
    403: ("Not allowed", "Your account cannot open this page. If you think it should, ask "
          "your instructor or an administrator."),
    404: ("Not found", "There is nothing here, or it is not shared with you. Check the "
          "address, or go back to your dashboard."),
    500: ("Something went wrong", "We could not finish that request. What you had saved "
          "is safe; please try again in a moment."),
    503: ("Back in a moment", "Red Queen can't reach its database for a moment. What you "
          "saved is safe; try again in a few seconds."),
}  # fmt: skip

# A PostgreSQL restart or fail-over takes a few seconds.
RETRY_AFTER_SECONDS = 5


def _error_response(request: HttpRequest, status: int) -> HttpResponse:
    title, message = MESSAGES[status]
    context = {"status": status, "title": title, "message": message}
    is_htmx = request.headers.get("HX-Request") == "true"
    template = "errors/error.html#error-message" if is_htmx else "errors/error.html"
    # Server errors render without the request: the page must not depend on anything
    # (the database, the session) that may be what failed.
    html = render_to_string(template, context, request=None if status >= 500 else request)
    response = HttpResponse(html, status=status)
    response["Vary"] = "HX-Request"
    if is_htmx:
        response = reswap(retarget(response, "#htmx-error"), "innerHTML")
    return response


# PostgreSQL's codes for a connection it refused or ended: connection exceptions (class
# 08), and the server shutting down, crashing or starting up.
CONNECTION_LOST = ("08", "57P01", "57P02", "57P03")


def database_unreachable(error: BaseException | None) -> bool:
    """Whether the error means the database could not be reached: a connection refused,
    cut, or ended by a server shutting down. Such a failure leaves no open connection
    behind (a failed connect opens none; psycopg closes a broken one), unless Django has
    already opened a new one on its way out of a transaction, so the error's code is read
    too (libpq's own failures, such as a closed socket, carry none). Errors on a working
    connection (a statement timeout, a deadlock) are bugs or load: a 500."""
    if not isinstance(error, (OperationalError, InterfaceError)):
        return False
    # Red Queen has one database.
    raw = connection.connection
    if raw is None or getattr(raw, "closed", False):
        return True
    cause = error.__cause__  # psycopg's error, with PostgreSQL's code.
    if not (isinstance(error, OperationalError) and hasattr(cause, "sqlstate")):
        return False
    return cause.sqlstate is None or cause.sqlstate.startswith(CONNECTION_LOST)


def bad_request(request: HttpRequest, exception=None) -> HttpResponse:
    return _error_response(request, 400)


def permission_denied(request: HttpRequest, exception=None) -> HttpResponse:
    return _error_response(request, 403)


def page_not_found(request: HttpRequest, exception=None) -> HttpResponse:
    return _error_response(request, 404)


def server_error(request: HttpRequest) -> HttpResponse:
    """Django calls this inside its `except` block, wherever the exception was raised
    (a view or any middleware), so `sys.exc_info()` names what failed. A database
    outage answers 503 with Retry-After; anything else is a 500."""
    error = sys.exc_info()[1]
    if not database_unreachable(error):
        return _error_response(request, 500)
    response = _error_response(request, 503)
    response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    # One line per request, not the traceback Django would log next: an outage fails
    # every request the same way, and hundreds of identical traces would bury real ones.
    first_line = str(error).strip().split("\n", 1)[0]
    logger.error(
        "Service Unavailable (database unreachable: %s): %s",
        first_line,
        request.path,
        extra={"status_code": 503, "request": request},
    )
    response._has_been_logged = True  # Read by django.utils.log.log_response.
    return response


def htmx_alert(request: HttpRequest, *, title: str, message: str, status: int) -> HttpResponse:
    """A refusal for an htmx request, shown in the page's alert region, not in place of
    the element that asked."""
    html = render_to_string(
        "errors/error.html#error-message",
        {"status": status, "title": title, "message": message},
        request=request,
    )
    return reswap(retarget(HttpResponse(html, status=status), "#htmx-error"), "innerHTML")
