"""Mounted at /api/v1/ by config.api_urls."""

from django.urls import path

from villages.api import peer_review, photos, views

urlpatterns = [
    path("villages/", views.VillageListView.as_view(), name="village-list"),
    path("villages/mine/", views.MyVillagesView.as_view(), name="village-mine"),
    path(
        "villages/<int:pk>/households/",
        views.VillageHouseholdsView.as_view(),
        name="village-households",
    ),
    path("campaigns/", views.CampaignListView.as_view(), name="campaign-list"),
    path("households/<uuid:pk>/", views.HouseholdView.as_view(), name="household"),
    path("members/<uuid:pk>/", views.MemberView.as_view(), name="member"),
    path("archives/<uuid:pk>/", views.ArchiveView.as_view(), name="archive"),
    path("field-visits/<uuid:pk>/", views.FieldVisitView.as_view(), name="field-visit"),
    path(
        "field-visits/<uuid:visit_pk>/photos/<uuid:pk>/",
        views.VisitPhotoView.as_view(),
        name="visit-photo",
    ),
    path("photos/<uuid:pk>/image/", photos.VisitPhotoImageView.as_view(), name="visit-photo-image"),
    path("peer-review/login/code/", peer_review.CodeRequestView.as_view(), name="review-code"),
    path("peer-review/login/", peer_review.CodeLoginView.as_view(), name="review-login"),
    path("peer-review/rounds/", peer_review.RoundListView.as_view(), name="review-rounds"),
    path(
        "peer-review/rounds/<int:round_pk>/evaluators/",
        peer_review.RoundEvaluatorsView.as_view(),
        name="review-evaluators",
    ),
    path(
        "peer-review/rounds/<int:round_pk>/close/",
        peer_review.RoundCloseView.as_view(),
        name="review-close",
    ),
    path(
        "peer-review/rounds/<int:round_pk>/households/",
        peer_review.ReviewHouseholdsView.as_view(),
        name="review-households",
    ),
    path(
        "peer-review/rounds/<int:round_pk>/votes/<uuid:household_pk>/",
        peer_review.ReviewVoteView.as_view(),
        name="review-vote",
    ),
]
