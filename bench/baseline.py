"""The origination bench's baseline, served beside the project's URLs (``bench.serving``): a bare
DRF endpoint that inserts one row. It goes through the same middleware, the same device-token
authentication and the same JSON rendering as the submit it is compared with, so the ratio shows
what the submit's own work (locking, deciding, storing the decision and the line) costs."""

from django.db import connection
from django.urls import include, path
from rest_framework.response import Response
from rest_framework.views import APIView

PING_TABLE = "bench_ping"
CREATE_PING_TABLE = (
    f"CREATE TABLE IF NOT EXISTS {PING_TABLE} "
    "(id bigserial PRIMARY KEY, ref bigint NOT NULL, user_id bigint NOT NULL, at timestamptz NOT NULL)"
)


class BaselineInsertView(APIView):
    def post(self, request, pk):
        with connection.cursor() as cursor:
            cursor.execute(
                f"INSERT INTO {PING_TABLE} (ref, user_id, at) VALUES (%s, %s, now()) RETURNING id",
                [pk, request.user.pk],
            )
            (row_id,) = cursor.fetchone()
        return Response({"id": row_id, "ref": pk})


urlpatterns = [
    path("bench/baseline/<int:pk>/", BaselineInsertView.as_view()),
    path("", include("config.urls")),
]
handler404 = "common.api.errors.api_aware_page_not_found"
handler500 = "common.api.errors.api_aware_server_error"
