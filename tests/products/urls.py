"""The project's URLs with the product API mounted where config.api_urls will mount it
(``path("products/", include("products.api.urls"))``)."""

from django.contrib import admin
from django.urls import include, path

api = [
    path("", include("config.api_urls")),
    path("products/", include("products.api.urls")),
]

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/v1/", include((api, "v1"), namespace="v1")),
]
