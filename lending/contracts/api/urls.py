"""Mounted at /api/v1/ through ``lending.api_urls``."""

from django.urls import path

from lending.contracts.api import views

urlpatterns = [
    path(
        "applications/<int:pk>/contract/",
        views.ApplicationContractView.as_view(),
        name="application-contract",
    ),
    path("contracts/<int:pk>/pdf/", views.ContractPdfView.as_view(), name="contract-pdf"),
    path(
        "contracts/<int:pk>/signing-codes/",
        views.SigningCodeView.as_view(),
        name="contract-signing-codes",
    ),
    path("contracts/<int:pk>/sign/", views.ContractSignView.as_view(), name="contract-sign"),
]
