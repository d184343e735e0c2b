from __future__ import annotations

from django.db import models

from org.models import Institution, Staff
from org.tenancy import TenantQuerySet


def empty_counts() -> dict:
    return {}


class ImportJobQuerySet(TenantQuerySet):
    def with_people(self) -> ImportJobQuerySet:
        return self.select_related("uploaded_by", "confirmed_by", "bank")


class ImportJob(models.Model):
    """One uploaded spreadsheet of households, members and archives, from upload to import.

    uploaded → validating → valid | invalid → (confirm) importing → done | failed.
    Validation keeps the cleaned rows (``staged_dir``) so the confirmed import writes exactly the
    rows the user previewed; the database-dependent checks are repeated inside the write.
    ``progress_percent`` is the progress of the phase named by ``status``. The row is updated in
    short transactions of its own so the API can poll it while the import runs.
    """

    class Status(models.TextChoices):
        UPLOADED = "uploaded", "已上传"
        VALIDATING = "validating", "校验中"
        INVALID = "invalid", "校验未通过"
        VALID = "valid", "校验通过"
        IMPORTING = "importing", "导入中"
        DONE = "done", "已导入"
        FAILED = "failed", "失败"

    tenant_bank_field = "bank"

    bank = models.ForeignKey(
        Institution,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name="法人行社",
        editable=False,
    )
    uploaded_by = models.ForeignKey(
        Staff, on_delete=models.PROTECT, related_name="+", verbose_name="上传人"
    )
    file = models.FileField("文件", upload_to="imports/%Y/%m/")
    original_filename = models.CharField("原文件名", max_length=255)
    file_size = models.PositiveBigIntegerField("文件大小(字节)", default=0)
    sha256 = models.CharField("SHA-256", max_length=64, db_index=True)
    status = models.CharField(
        "状态", max_length=12, choices=Status.choices, default=Status.UPLOADED, db_index=True
    )
    progress_percent = models.PositiveSmallIntegerField("进度(%)", default=0)
    # {"households": {"rows", "valid", "skipped", "created", "updated", "unchanged"}, "members": …}
    counts = models.JSONField("行数统计", default=empty_counts, blank=True)
    # [{"sheet", "row", "column", "reason"}], rows as Excel numbers them
    errors = models.JSONField("错误", default=list, blank=True)
    error_count = models.PositiveIntegerField("错误数", default=0)
    warnings = models.JSONField("提示", default=list, blank=True)
    import_valid_rows_only = models.BooleanField("仅导入有效行", default=False)
    staged_dir = models.CharField("校验结果目录", max_length=255, blank=True, editable=False)
    failure_reason = models.TextField("失败原因", blank=True)
    confirmed_by = models.ForeignKey(
        Staff,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name="确认人",
    )
    created_at = models.DateTimeField("上传时间", auto_now_add=True)
    validated_at = models.DateTimeField("校验完成时间", null=True, blank=True)
    confirmed_at = models.DateTimeField("确认时间", null=True, blank=True)
    finished_at = models.DateTimeField("导入完成时间", null=True, blank=True)

    objects = ImportJobQuerySet.as_manager()

    class Meta:
        verbose_name = "农户批量导入"
        verbose_name_plural = "农户批量导入"
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["bank", "-created_at"], name="importjob_bank_created")]

    def __str__(self) -> str:
        return f"{self.original_filename} ({self.get_status_display()})"

    @property
    def is_running(self) -> bool:
        return self.status in (self.Status.UPLOADED, self.Status.VALIDATING, self.Status.IMPORTING)

    @property
    def can_confirm(self) -> bool:
        return self.status == self.Status.VALID or (
            self.status == self.Status.INVALID and self.importable_rows > 0
        )

    @property
    def importable_rows(self) -> int:
        return sum(int(part.get("valid", 0)) for part in (self.counts or {}).values())
