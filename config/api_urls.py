"""Everything under /api/v1/. Each app contributes its own ``api/urls.py``."""

from django.contrib.admin.views.decorators import staff_member_required
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView
from rest_framework.permissions import IsAdminUser

# The schema and its docs are for staff (signed in to the admin, or holding a device token): they
# map every endpoint and parameter, which an anonymous visitor has no need of. A browser without a
# session is sent to the admin's login page and back; the Swagger UI then reads the schema with
# the same session.
urlpatterns = [
    path("schema/", SpectacularAPIView.as_view(permission_classes=[IsAdminUser]), name="schema"),
    path(
        "docs/",
        staff_member_required(
            SpectacularSwaggerView.as_view(url_name="v1:schema", permission_classes=[IsAdminUser])
        ),
        name="docs",
    ),
    path("", include("org.api.urls")),
    path("products/", include("products.api.urls")),
    path("villages/imports/", include("villages.api.import_urls")),
    path("", include("villages.api.urls")),
    path("", include("risk.api.urls")),
    path("", include("lending.api_urls")),
]
