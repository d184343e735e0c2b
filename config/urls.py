from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView

from org.admin import own_password_change

admin.site.site_header = "整村授信平台 · 后台管理"
admin.site.site_title = "整村授信平台"
admin.site.index_title = "业务管理"

urlpatterns = [
    path("", RedirectView.as_view(url="/admin/", permanent=False)),
    # Ahead of the admin's own: the change goes through org.services (lifts a forced change).
    path(
        "admin/password_change/",
        admin.site.admin_view(own_password_change),
        name="own_password_change",
    ),
    path("admin/", admin.site.urls),
    path("api/v1/", include(("config.api_urls", "v1"), namespace="v1")),
]
