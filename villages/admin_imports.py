"""Back office for the spreadsheet import: upload → dry-run report → confirm → done.

Like django-import-export's flow, but the dry run is a job: validation runs in a Celery task
(in-process without a broker), the job page refreshes itself while it runs, shows every error
with sheet, row, column and reason, and offers "confirm" — or, for a file with errors, "import
only the valid rows" — when the job allows it. Writes go through ``villages.imports.services``.
"""

from __future__ import annotations

from urllib.parse import quote

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.views.decorators.http import require_POST

from org.admin_mixins import TenantAdminMixin
from villages.imports.columns import SHEETS
from villages.imports.reader import ImportFileError, human_size, max_file_bytes
from villages.imports.services import ImportRejected, import_job_confirm, import_job_create
from villages.imports.template import TEMPLATE_FILENAME, template_workbook_bytes
from villages.models import ImportJob

XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
ERRORS_SHOWN = 1000
COUNT_LABELS = [
    ("rows", "行数"),
    ("valid", "可导入"),
    ("invalid", "有错误"),
    ("skipped", "因依赖而跳过"),
    ("created", "新增"),
    ("updated", "更新"),
    ("unchanged", "无变化"),
]


class UploadForm(forms.Form):
    file = forms.FileField(label="导入文件(.xlsx)")


@admin.register(ImportJob)
class ImportJobAdmin(TenantAdminMixin, admin.ModelAdmin):
    list_display = [
        "original_filename",
        "status_badge",
        "progress_percent",
        "summary",
        "error_count",
        "uploaded_by",
        "created_at",
    ]
    list_filter = ["status"]
    list_select_related = ["uploaded_by", "bank"]
    search_fields = ["original_filename", "sha256"]
    change_list_template = "admin/villages/import/change_list.html"
    ordering = ["-created_at"]

    @admin.display(description="状态", ordering="status")
    def status_badge(self, job: ImportJob) -> str:
        return job.get_status_display()

    @admin.display(description="户 / 人 / 档案")
    def summary(self, job: ImportJob) -> str:
        counts = job.counts or {}
        return " / ".join(str(counts.get(spec.code, {}).get("rows", "—")) for spec in SHEETS)

    # --- permissions: jobs are made by uploading, changed only by confirming ------------------

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def _may_import(self, request) -> bool:
        staff = getattr(request.user, "staff", None)
        return (
            staff is not None
            and staff.bank_id is not None
            and not self._read_only(request)
            and request.user.has_perm("villages.add_importjob")
        )

    def has_add_permission(self, request, *args):
        return self._may_import(request)

    # --- views --------------------------------------------------------------------------------

    def get_urls(self):
        own = [
            path(
                "template/",
                self.admin_site.admin_view(self.template_view),
                name="villages_importjob_template",
            ),
            path(
                "<int:object_id>/confirm/",
                self.admin_site.admin_view(require_POST(self.confirm_view)),
                name="villages_importjob_confirm",
            ),
        ]
        return own + super().get_urls()

    def add_view(self, request, form_url="", extra_context=None):
        if not self.has_add_permission(request):
            raise PermissionDenied
        form = UploadForm(request.POST or None, request.FILES or None)
        if request.method == "POST" and form.is_valid():
            try:
                job = import_job_create(
                    uploaded_by=request.user.staff, upload=form.cleaned_data["file"]
                )
            except (ImportFileError, ImportRejected) as exc:
                form.add_error("file", exc.message)
            else:
                # No flash message: the job page says what is happening from the job's status,
                # so "checking" is not still shown once the check has ended (without a broker it
                # has ended before the redirect).
                return HttpResponseRedirect(self._job_url(job.pk))
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": "上传农户数据文件",
            "form": form,
            "max_size": human_size(max_file_bytes()),
            "sheets": SHEETS,
            "template_url": reverse("admin:villages_importjob_template"),
        }
        request.current_app = self.admin_site.name
        return TemplateResponse(request, "admin/villages/import/upload.html", context)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        job = self.get_queryset(request).filter(pk=object_id).first()
        if job is None:
            raise Http404(f"导入任务 {object_id} 不存在")
        if not self.has_view_permission(request, job):
            raise PermissionDenied
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": f"导入任务：{job.original_filename}",
            "job": job,
            "count_labels": COUNT_LABELS,
            "count_rows": self._count_rows(job),
            "errors": job.errors[:ERRORS_SHOWN],
            "errors_truncated": job.error_count > min(len(job.errors), ERRORS_SHOWN),
            "errors_shown": min(len(job.errors), ERRORS_SHOWN),
            "may_confirm": job.can_confirm and self._may_import(request),
            "confirm_url": reverse("admin:villages_importjob_confirm", args=[job.pk]),
            "refresh": job.is_running,
        }
        request.current_app = self.admin_site.name
        return TemplateResponse(request, "admin/villages/import/job.html", context)

    def confirm_view(self, request, object_id: int):
        job = get_object_or_404(self.get_queryset(request), pk=object_id)
        if not self._may_import(request):
            raise PermissionDenied
        try:
            import_job_confirm(
                job=job,
                confirmed_by=request.user.staff,
                import_valid_rows_only=request.POST.get("import_valid_rows_only") == "on",
            )
        except ImportRejected as exc:
            messages.error(request, exc.message)
        else:
            messages.success(request, "已确认导入")
        return HttpResponseRedirect(self._job_url(job.pk))

    def template_view(self, request):
        if not self.has_view_permission(request):
            raise PermissionDenied
        response = HttpResponse(template_workbook_bytes(), content_type=XLSX_TYPE)
        response["Content-Disposition"] = (
            f"attachment; filename=\"template.xlsx\"; filename*=UTF-8''{quote(TEMPLATE_FILENAME)}"
        )
        return response

    def changelist_view(self, request, extra_context=None):
        extra = {
            "template_url": reverse("admin:villages_importjob_template"),
            "may_import": self._may_import(request),
            **(extra_context or {}),
        }
        return super().changelist_view(request, extra_context=extra)

    # --- helpers ------------------------------------------------------------------------------

    def _job_url(self, pk: int) -> str:
        return reverse("admin:villages_importjob_change", args=[pk])

    @staticmethod
    def _count_rows(job: ImportJob) -> list[dict]:
        counts = job.counts or {}
        return [
            {
                "sheet": spec.name,
                "values": [counts.get(spec.code, {}).get(key, "") for key, _ in COUNT_LABELS],
            }
            for spec in SHEETS
            if spec.code in counts
        ]
