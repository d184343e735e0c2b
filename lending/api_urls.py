"""Everything lending serves under /api/v1/, each concern's own ``api/urls.py``."""

from django.urls import include, path

urlpatterns = [
    path("", include("lending.lines.api.urls")),
    path("", include("lending.applications.api.urls")),
    path("", include("lending.contracts.api.urls")),
    path("", include("lending.loans.api.urls")),
]
