"""Mounted at /api/v1/ through ``risk.api.urls``."""

from django.urls import path

from risk.decisions.api import views

urlpatterns = [
    path(
        "households/<uuid:pk>/decisions/",
        views.HouseholdDecisionView.as_view(),
        name="household-decision",
    ),
    path(
        "households/<uuid:pk>/decisions/what-if/",
        views.HouseholdWhatIfView.as_view(),
        name="household-decision-what-if",
    ),
    path("decisions/<int:pk>/", views.DecisionDetailView.as_view(), name="decision-detail"),
]
