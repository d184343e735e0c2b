from django.contrib import admin
from django.urls import include, path, re_path
from django.views.generic import RedirectView

from common.api.errors import api_not_found
from config import dashboard
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
    # Ahead of the admin's own index: the same page with the dashboard's panels.
    path("admin/", admin.site.admin_view(dashboard.index), name="admin_dashboard"),
    path("admin/", admin.site.urls),
    path("api/v1/", include(("config.api_urls", "v1"), namespace="v1")),
    # Last: any other /api/ path answers the API's JSON 404, also with DEBUG on.
    re_path(r"^api/", api_not_found),
]
handler404 = "common.api.errors.api_aware_page_not_found"
handler500 = "common.api.errors.api_aware_server_error"
