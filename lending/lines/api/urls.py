"""Mounted at /api/v1/ through ``lending.api_urls``."""

from django.urls import path

from lending.lines.api import views

urlpatterns = [
    path("credit-lines/", views.CreditLineListView.as_view(), name="credit-lines"),
    path("credit-lines/<int:pk>/", views.CreditLineDetailView.as_view(), name="credit-line"),
]
