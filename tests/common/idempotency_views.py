"""A money-shaped POST used to exercise the idempotency mechanism end to end.

It creates a real row (a branch under the caller's bank) through the real service, so a replay
that ran the view twice would be visible as a duplicate row or a unique-code error.
"""

import threading

from django.urls import include, path
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from common.idempotency import idempotent
from org.models import Institution
from org.services import institution_create

# Set by the concurrency test: the first request waits here until the second has been answered.
gate: dict[str, threading.Event | None] = {"entered": None, "release": None}


class BranchIn(serializers.Serializer):
    code = serializers.CharField(max_length=32)
    name = serializers.CharField(max_length=100)
    fail = serializers.BooleanField(default=False)


class CreateBranchView(APIView):
    @idempotent()
    def post(self, request):
        data = BranchIn(data=request.data)
        data.is_valid(raise_exception=True)
        if gate["entered"] is not None:
            gate["entered"].set()
            gate["release"].wait(timeout=10)
        bank = Institution.objects.get(pk=request.user.staff.bank_id)
        branch = institution_create(
            code=data.validated_data["code"],
            name=data.validated_data["name"],
            kind=Institution.Kind.BRANCH,
            parent=bank,
        )
        if data.validated_data["fail"]:
            raise RuntimeError("core banking gateway unreachable")
        return Response({"id": branch.pk, "code": branch.code}, status=status.HTTP_201_CREATED)


urlpatterns = [
    path("test/branches/", CreateBranchView.as_view()),
    path("", include("config.urls")),
]
