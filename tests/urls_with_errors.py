"""The site's URLs plus one view that fails, to see what users see when code breaks."""

from django.urls import path

from redqueen.urls import urlpatterns as site_urlpatterns


def boom(request):
    return 1 / 0


urlpatterns = [path("boom/", boom), *site_urlpatterns]

handler500 = "cases.views.errors.server_error"
handler404 = "cases.views.errors.page_not_found"
