"""Everything under /api/v1/. Each app contributes its own ``api/urls.py``."""

from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

urlpatterns = [
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    path("docs/", SpectacularSwaggerView.as_view(url_name="v1:schema"), name="docs"),
    path("", include("org.api.urls")),
    path("products/", include("products.api.urls")),
    path("villages/imports/", include("villages.api.import_urls")),
    path("", include("villages.api.urls")),
]
