from django.urls import path

from org.api import views

urlpatterns = [
    path("auth/login/", views.LoginView.as_view(), name="auth-login"),
    path("auth/logout/", views.DeviceLogoutView.as_view(), name="auth-logout"),
    path("auth/logoutall/", views.DeviceLogoutAllView.as_view(), name="auth-logout-all"),
    path("me/", views.MeView.as_view(), name="me"),
    path("org/institutions/", views.InstitutionListView.as_view(), name="institution-list"),
    path(
        "org/institutions/<int:pk>/",
        views.InstitutionDetailView.as_view(),
        name="institution-detail",
    ),
    path("org/staff/", views.StaffListView.as_view(), name="staff-list"),
    path("org/staff/<int:pk>/", views.StaffDetailView.as_view(), name="staff-detail"),
]
