"""Spreadsheet import over the API: upload → poll → (read the errors) → confirm.

Upload answers 202 with the job; validation runs in a Celery task (in-process when no broker is
configured, in which case the answer already carries the result). Jobs belong to a bank: another
bank's job id is a 404.
"""

from __future__ import annotations

from django.http import HttpResponse
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics, serializers, status
from rest_framework.exceptions import NotFound, PermissionDenied, ValidationError
from rest_framework.permissions import BasePermission
from rest_framework.response import Response
from rest_framework.views import APIView

from common.api.pagination import StandardPagination
from common.api.parsers import MultiPartParser
from common.idempotency import idempotent
from org.api.mixins import BankDataWritable, TenantScopedMixin
from org.tenancy import scope_queryset
from villages.imports.reader import ImportFileError, human_size, max_file_bytes
from villages.imports.services import ImportRejected, import_job_confirm, import_job_create
from villages.imports.template import TEMPLATE_FILENAME, template_workbook_bytes
from villages.models import ImportJob

XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
ERRORS_IN_STATUS = 100


class CanImport(BasePermission):
    """Viewing jobs needs ``view_importjob``; uploading and confirming ``add_importjob``."""

    message = "没有批量导入农户数据的权限"

    def has_permission(self, request, view) -> bool:
        codename = "view_importjob" if request.method in ("GET", "HEAD") else "add_importjob"
        return request.user.has_perm(f"villages.{codename}")


class ProblemSerializer(serializers.Serializer):
    sheet = serializers.CharField()
    row = serializers.IntegerField(allow_null=True, help_text="行号(与Excel显示一致)")
    column = serializers.CharField()
    reason = serializers.CharField()


class ImportJobSerializer(serializers.ModelSerializer):
    status_display = serializers.CharField(source="get_status_display", read_only=True)
    uploaded_by = serializers.CharField(source="uploaded_by.full_name", read_only=True)
    errors = serializers.SerializerMethodField(
        help_text=f"前{ERRORS_IN_STATUS}条错误；全部见 errors/"
    )
    can_confirm = serializers.BooleanField(read_only=True)

    class Meta:
        model = ImportJob
        fields = [
            "id",
            "status",
            "status_display",
            "progress_percent",
            "original_filename",
            "file_size",
            "sha256",
            "counts",
            "error_count",
            "errors",
            "warnings",
            "import_valid_rows_only",
            "can_confirm",
            "failure_reason",
            "uploaded_by",
            "created_at",
            "validated_at",
            "confirmed_at",
            "finished_at",
        ]

    def get_errors(self, job) -> list[dict]:
        return ProblemSerializer(job.errors[:ERRORS_IN_STATUS], many=True).data


class ImportJobListSerializer(ImportJobSerializer):
    class Meta(ImportJobSerializer.Meta):
        fields = [
            f for f in ImportJobSerializer.Meta.fields if f not in ("errors", "warnings", "sha256")
        ]


class UploadSerializer(serializers.Serializer):
    # Empty files reach the service, whose message says what to do about them.
    file = serializers.FileField(allow_empty_file=True, help_text="按导入模板填写的 .xlsx 文件")


class ConfirmSerializer(serializers.Serializer):
    import_valid_rows_only = serializers.BooleanField(
        default=False, help_text="文件有错误时，仅导入有效行(依赖错误行的行一并跳过)"
    )


class _JobQuerysetMixin(TenantScopedMixin):
    def get_queryset(self):
        return super().get_queryset().with_people()

    queryset = ImportJob.objects.all()


def _staff(request):
    staff = getattr(request.user, "staff", None)
    if staff is None or staff.bank_id is None:
        raise PermissionDenied("只有法人行社的员工可以导入农户数据")
    return staff


def _rejected(exc: ImportRejected):
    if exc.code == "permission_denied":
        return PermissionDenied(exc.message)
    return ValidationError({"non_field_errors": [exc.message]}, code=exc.code)


class ImportJobListCreateView(_JobQuerysetMixin, generics.ListAPIView):
    """The bank's import jobs, newest first; POST a file to start one."""

    permission_classes = [BankDataWritable, CanImport]
    parser_classes = [MultiPartParser]
    serializer_class = ImportJobListSerializer

    @extend_schema(
        request=UploadSerializer, responses={202: ImportJobSerializer}, tags=["villages"]
    )
    def post(self, request):
        # Refuse an oversized body before Django parses (and spools) the multipart upload.
        length = int(request.META.get("CONTENT_LENGTH") or 0)
        if length > max_file_bytes() + 64 * 1024:
            raise ValidationError(
                {"file": [f"文件超过{human_size(max_file_bytes())}的上限；请按村拆分后分别导入"]}
            )
        staff = _staff(request)
        serializer = UploadSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        try:
            job = import_job_create(uploaded_by=staff, upload=serializer.validated_data["file"])
        except ImportFileError as exc:
            raise ValidationError({"file": [exc.message]}) from exc
        except ImportRejected as exc:
            raise _rejected(exc) from exc
        job = self.get_queryset().get(pk=job.pk)
        return Response(ImportJobSerializer(job).data, status=status.HTTP_202_ACCEPTED)


class ImportJobDetailView(_JobQuerysetMixin, generics.RetrieveAPIView):
    """Status, progress %, counts, warnings and the first errors of a job."""

    permission_classes = [BankDataWritable, CanImport]
    serializer_class = ImportJobSerializer

    @extend_schema(tags=["villages"])
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)


class ImportJobErrorsView(_JobQuerysetMixin, generics.GenericAPIView):
    """Every stored error of a job, paged: sheet, row (as Excel shows it), column, reason."""

    permission_classes = [BankDataWritable, CanImport]
    serializer_class = ProblemSerializer
    pagination_class = StandardPagination

    @extend_schema(responses=ProblemSerializer(many=True), tags=["villages"])
    def get(self, request, pk: int):
        jobs = scope_queryset(ImportJob.objects.only("id", "errors", "bank_id"), request.user)
        job = jobs.filter(pk=pk).first()
        if job is None:
            raise NotFound()
        page = self.paginate_queryset(job.errors)
        return self.get_paginated_response(ProblemSerializer(page, many=True).data)


class ImportJobConfirmView(APIView):
    """Import a validated job (or, if asked, only its valid rows). Send an Idempotency-Key."""

    permission_classes = [BankDataWritable, CanImport]

    @extend_schema(
        request=ConfirmSerializer,
        responses={202: ImportJobSerializer},
        parameters=[OpenApiParameter("Idempotency-Key", str, OpenApiParameter.HEADER, True)],
        tags=["villages"],
    )
    @idempotent()
    def post(self, request, pk: int):
        staff = _staff(request)
        job = scope_queryset(ImportJob.objects.all(), request.user).filter(pk=pk).first()
        if job is None:
            raise NotFound()
        serializer = ConfirmSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        try:
            job = import_job_confirm(
                job=job,
                confirmed_by=staff,
                import_valid_rows_only=serializer.validated_data["import_valid_rows_only"],
            )
        except ImportRejected as exc:
            raise _rejected(exc) from exc
        job = ImportJob.objects.with_people().get(pk=job.pk)
        return Response(ImportJobSerializer(job).data, status=status.HTTP_202_ACCEPTED)


class ImportTemplateView(APIView):
    """The xlsx template: 农户 / 家庭成员 / 经济档案 sheets and a 说明 sheet."""

    permission_classes = [CanImport]

    @extend_schema(responses={(200, XLSX_TYPE): bytes}, tags=["villages"])
    def get(self, request):
        response = HttpResponse(template_workbook_bytes(), content_type=XLSX_TYPE)
        response["Content-Disposition"] = (
            f"attachment; filename=\"template.xlsx\"; filename*=UTF-8''{_quote(TEMPLATE_FILENAME)}"
        )
        return response


def _quote(name: str) -> str:
    from urllib.parse import quote

    return quote(name)
