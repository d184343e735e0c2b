"""Mounted under /api/v1/villages/imports/."""

from django.urls import path

from villages.api import imports

urlpatterns = [
    path("", imports.ImportJobListCreateView.as_view(), name="village-import-list"),
    path("template/", imports.ImportTemplateView.as_view(), name="village-import-template"),
    path("<int:pk>/", imports.ImportJobDetailView.as_view(), name="village-import-detail"),
    path("<int:pk>/errors/", imports.ImportJobErrorsView.as_view(), name="village-import-errors"),
    path(
        "<int:pk>/confirm/", imports.ImportJobConfirmView.as_view(), name="village-import-confirm"
    ),
]
