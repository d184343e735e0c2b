"""Mounted at /api/v1/ by config.api_urls."""

from django.urls import include, path

from risk.api import views

urlpatterns = [
    path(
        "households/<uuid:pk>/score/",
        views.HouseholdScoreView.as_view(),
        name="household-score",
    ),
    path("risk/scoring-jobs/", views.ScoringJobListView.as_view(), name="scoring-jobs"),
    path("risk/scoring-jobs/<uuid:pk>/", views.ScoringJobView.as_view(), name="scoring-job"),
    path("", include("risk.decisions.api.urls")),
]
