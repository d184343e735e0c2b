from django.conf import settings
from django.db import models

from common import pii
from common.fields import EncryptedTextField, KeyedHashField, KeyedHashModel


class IdempotencyRecord(models.Model):
    """One ``Idempotency-Key`` a user sent to a POST endpoint, and what it answered.

    A PAD tablet that lost its connection resends the same request with the same key; the stored
    response is replayed instead of doing the work twice (see ``common.idempotency``).
    """

    class State(models.TextChoices):
        IN_FLIGHT = "in_flight", "处理中"
        COMPLETED = "completed", "已完成"

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+", verbose_name="用户"
    )
    key = models.CharField("幂等键", max_length=255)
    method = models.CharField("方法", max_length=10)
    path = models.CharField("路径", max_length=500)
    request_hash = models.CharField("请求摘要", max_length=64)
    state = models.CharField("状态", max_length=16, choices=State.choices)
    response_status = models.PositiveSmallIntegerField("响应状态码", null=True, blank=True)
    response_body = models.JSONField("响应内容", null=True, blank=True)
    claimed_at = models.DateTimeField("受理时间")
    completed_at = models.DateTimeField("完成时间", null=True, blank=True)
    expires_at = models.DateTimeField("过期时间", db_index=True)

    class Meta:
        verbose_name = "幂等请求记录"
        verbose_name_plural = verbose_name
        constraints = [
            models.UniqueConstraint(fields=["user", "key"], name="idempotency_unique_user_key"),
            models.CheckConstraint(
                condition=models.Q(state="in_flight") | models.Q(response_status__isnull=False),
                name="idempotency_completed_has_response",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.method} {self.path} [{self.key}]"


class SandboxSmsMessage(KeyedHashModel):
    """A text message the sandbox SMS gateway (``common.sms.SandboxSmsGateway``) "sent".

    Nothing leaves the machine: the message is kept here so tests, demos and operations can read
    what a real gateway would have delivered. The phone is personal data, stored encrypted.
    """

    phone = EncryptedTextField("手机号", purpose=pii.PHONE, max_length=20)
    phone_hash = KeyedHashField("手机号(哈希)", source="phone", purpose=pii.PHONE)
    text = models.TextField("短信内容")
    purpose = models.CharField("用途", max_length=50, blank=True)
    sent_at = models.DateTimeField("发送时间", auto_now_add=True, db_index=True)

    class Meta:
        verbose_name = "短信发送记录(沙箱)"
        verbose_name_plural = verbose_name
        ordering = ["-sent_at", "-pk"]

    def __str__(self) -> str:
        return f"{self.sent_at:%Y-%m-%d %H:%M} {self.purpose}"
