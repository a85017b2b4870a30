"""Error pages: plain pages with a clear message, and for htmx requests the same message
as a fragment swapped into the page's alert region. Never a trace."""

from django.http import HttpRequest, HttpResponse
from django.template.loader import render_to_string
from django_htmx.http import reswap, retarget

MESSAGES = {
    400: ("Bad request", "The request could not be understood. Go back and try again."),
    403: ("Not allowed", "Your account cannot open this page. If you think it should, ask "
          "your instructor or an administrator."),
    404: ("Not found", "There is nothing here, or it is not shared with you. Check the "
          "address, or go back to your dashboard."),
    500: ("Something went wrong", "We could not finish that request. What you had saved "
          "is safe; please try again in a moment."),
}  # fmt: skip


def _error_response(request: HttpRequest, status: int) -> HttpResponse:
    title, message = MESSAGES[status]
    context = {"status": status, "title": title, "message": message}
    is_htmx = request.headers.get("HX-Request") == "true"
    template = "errors/error.html#error-message" if is_htmx else "errors/error.html"
    # The 500 page renders without the request: it must not depend on anything (the
    # database, the session) that may be what failed.
    html = render_to_string(template, context, request=None if status == 500 else request)
    response = HttpResponse(html, status=status)
    response["Vary"] = "HX-Request"
    if is_htmx:
        response = reswap(retarget(response, "#htmx-error"), "innerHTML")
    return response


def bad_request(request: HttpRequest, exception=None) -> HttpResponse:
    return _error_response(request, 400)


def permission_denied(request: HttpRequest, exception=None) -> HttpResponse:
    return _error_response(request, 403)


def page_not_found(request: HttpRequest, exception=None) -> HttpResponse:
    return _error_response(request, 404)


def server_error(request: HttpRequest) -> HttpResponse:
    return _error_response(request, 500)


def htmx_alert(request: HttpRequest, *, title: str, message: str, status: int) -> HttpResponse:
    """A refusal for an htmx request, shown in the page's alert region, not in place of
    the element that asked."""
    html = render_to_string(
        "errors/error.html#error-message",
        {"status": status, "title": title, "message": message},
        request=request,
    )
    return reswap(retarget(HttpResponse(html, status=status), "#htmx-error"), "innerHTML")
