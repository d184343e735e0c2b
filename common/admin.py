"""The sandbox SMS outbox (短信发送记录(沙箱)): what a real gateway would have delivered.

Read-only, phones masked. It holds live sign-in codes, which would let a reader sign in as an
evaluator, so only superusers (operations) see it — not the federation, whose staff only read
bank data.
"""

from __future__ import annotations

from django.contrib import admin

from common.masking import mask_phone
from common.models import SandboxSmsMessage


@admin.register(SandboxSmsMessage)
class SandboxSmsMessageAdmin(admin.ModelAdmin):
    list_display = ["sent_at", "masked_phone", "purpose", "text"]
    list_filter = ["purpose"]
    fields = ["sent_at", "masked_phone", "purpose", "text"]
    readonly_fields = fields

    def has_module_permission(self, request):
        return request.user.is_active and request.user.is_superuser

    def has_view_permission(self, request, obj=None):
        return request.user.is_active and request.user.is_superuser

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description="手机号")
    def masked_phone(self, message):
        return mask_phone(message.phone)
