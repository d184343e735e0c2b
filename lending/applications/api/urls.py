"""Mounted at /api/v1/ through ``lending.api_urls``."""

from django.urls import path

from lending.applications.api import views

urlpatterns = [
    path("applications/", views.ApplicationListView.as_view(), name="applications"),
    path("applications/<int:pk>/", views.ApplicationDetailView.as_view(), name="application"),
    path(
        "applications/<int:pk>/submit/",
        views.ApplicationSubmitView.as_view(),
        name="application-submit",
    ),
    path(
        "applications/<int:pk>/withdraw/",
        views.ApplicationWithdrawView.as_view(),
        name="application-withdraw",
    ),
    path(
        "applications/<int:pk>/attachments/",
        views.ApplicationAttachmentsView.as_view(),
        name="application-attachments",
    ),
    path(
        "applications/<int:pk>/investigation/",
        views.ApplicationInvestigationView.as_view(),
        name="application-investigation",
    ),
    path(
        "applications/<int:pk>/resubmit/",
        views.ApplicationResubmitView.as_view(),
        name="application-resubmit",
    ),
]
