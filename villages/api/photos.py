"""Photos of field visits (影像资料), served only through an authorised view.

Photos show ID cards, houses and people: they are personal data, so ``MEDIA_ROOT`` is never
served as public files (``config/urls.py`` has no media route). Each request is checked like any
other read of bank data: the caller needs the permission to view photos (staff roles have it;
peer-review evaluators do not), and the photo must be in the caller's scope — another bank's
photo, or one from a village an account manager does not serve, answers 404 exactly as an
unknown id does. The admin links here with the staff member's session; the PAD reads the
``url`` the API gives with each photo, sending its device token.
"""

from __future__ import annotations

from django.http import FileResponse, Http404
from django.shortcuts import get_object_or_404
from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework.permissions import BasePermission, IsAuthenticated
from rest_framework.views import APIView

from org.tenancy import scope_queryset
from villages.models import VisitPhoto

_CONTENT_TYPES = {"png": "image/png", "jpg": "image/jpeg", "jpeg": "image/jpeg"}


def photo_image_path(photo: VisitPhoto) -> str:
    """Where the photo's picture is read (a path; the API makes it absolute)."""
    return reverse("v1:visit-photo-image", kwargs={"pk": photo.pk})


class MayViewPhotos(BasePermission):
    message = "您没有查看影像资料的权限"

    def has_permission(self, request, view) -> bool:
        return request.user.has_perm("villages.view_visitphoto")


class VisitPhotoImageView(APIView):
    """The picture of one photo, for staff who may see it (another bank's id: 404)."""

    permission_classes = [IsAuthenticated, MayViewPhotos]

    def perform_content_negotiation(self, request, force=False):
        # A PAD asks for image/jpeg; refusals are still answered, as JSON in the API's format.
        return super().perform_content_negotiation(request, force=True)

    @extend_schema(
        tags=["villages"],
        responses={
            (200, "image/jpeg"): OpenApiResponse(OpenApiTypes.BINARY, description="照片"),
            (200, "image/png"): OpenApiResponse(OpenApiTypes.BINARY, description="照片"),
        },
    )
    def get(self, request, pk):
        photo = get_object_or_404(scope_queryset(VisitPhoto.objects.all(), request.user), pk=pk)
        if not photo.image:
            raise Http404("照片文件不存在")
        extension = photo.image.name.rsplit(".", 1)[-1].lower()
        try:
            handle = photo.image.open("rb")
        except FileNotFoundError:
            raise Http404("照片文件不存在") from None
        response = FileResponse(
            handle, content_type=_CONTENT_TYPES.get(extension, "application/octet-stream")
        )
        # Personal data: kept by the browser that asked, never by a shared proxy.
        response["Cache-Control"] = "private, max-age=3600"
        response["Content-Disposition"] = f'inline; filename="{photo.pk}.{extension}"'
        return response
