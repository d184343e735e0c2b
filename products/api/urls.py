"""Mounted at /api/v1/products/ by config.api_urls."""

from django.urls import path

from products.api import views

urlpatterns = [
    path("", views.ProductListView.as_view(), name="product-list"),
    path("available/", views.AvailableProductsView.as_view(), name="product-available"),
    path("lpr/", views.LprView.as_view(), name="product-lpr"),
    path("<int:pk>/", views.ProductDetailView.as_view(), name="product-detail"),
    path("<int:pk>/clone/", views.ProductCloneView.as_view(), name="product-clone"),
    path(
        "versions/<int:pk>/schedule-preview/",
        views.SchedulePreviewView.as_view(),
        name="product-version-schedule-preview",
    ),
]
