"""合同模板 and 电子合同 in the admin.

Templates: a draft is edited here (the body is checked for template syntax before it is saved),
previewed as the PDF it renders against made-up sample values, activated, or copied to a new
version; an active or retired version is read-only. Contracts: the list by status, a contract's
signers and evidence chain, and downloads of the contract PDF (sealed when signed) and of its
evidence report for staff holding 可下载合同与证据报告. Nothing on these pages shows a full ID
number or phone.
"""

from __future__ import annotations

from django import forms
from django.contrib import admin
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpResponse
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join

from common.clock import local_text
from lending.contracts import rendering, services
from lending.contracts.models import (
    Contract,
    ContractSigner,
    ContractTemplate,
    EvidenceRecord,
    TemplateStatus,
)
from lending.contracts.report import evidence_report_pdf
from org.admin_mixins import TenantAdminMixin, add_service_errors, run_per_row


def pdf_response(data: bytes, filename: str, *, inline: bool = False) -> HttpResponse:
    response = HttpResponse(bytes(data), content_type="application/pdf")
    disposition = "inline" if inline else "attachment"
    response["Content-Disposition"] = f'{disposition}; filename="{filename}"'
    response["Cache-Control"] = "no-store"
    return response


class TemplateForm(forms.ModelForm):
    class Meta:
        model = ContractTemplate
        fields = ["code", "title", "body", "note"]
        widgets = {
            "body": forms.Textarea(
                attrs={"rows": 30, "cols": 120, "style": "font-family: monospace"}
            )
        }

    def clean(self):
        data = super().clean()
        try:
            rendering.render_body(data.get("body") or "", {})
        except ValidationError as exc:
            add_service_errors(self, exc)
        return data


@admin.register(ContractTemplate)
class ContractTemplateAdmin(admin.ModelAdmin):
    form = TemplateForm
    list_display = ["title", "code", "version", "status", "activated_local", "note"]
    list_filter = ["status"]
    search_fields = ["code", "title"]
    actions = ["activate_action", "copy_action"]
    readonly_fields = ["status", "version", "preview_link", "activated_local"]

    def get_fields(self, request, obj=None):
        if obj is None:
            return ["code", "title", "body", "note"]
        return [
            "code",
            "version",
            "status",
            "title",
            "note",
            "preview_link",
            "activated_local",
            "body",
        ]

    def get_readonly_fields(self, request, obj=None):
        if obj is not None:
            # The code names the template for products; a version keeps it for life.
            return [*self.readonly_fields, "code"]
        return self.readonly_fields

    @admin.display(description="启用时间")
    def activated_local(self, obj):
        return local_text(obj.activated_at)

    @admin.display(description="预览")
    def preview_link(self, obj):
        if obj is None or obj.pk is None:
            return "保存后可预览"
        url = reverse("admin:lending_contracttemplate_preview", args=[obj.pk])
        return format_html(
            '<a href="{}" target="_blank">以示例数据生成 PDF 预览</a>（先保存修改）', url
        )

    def has_change_permission(self, request, obj=None):
        if obj is not None and obj.status != TemplateStatus.DRAFT:
            return False  # contracts were rendered from it: copy to a new version instead
        return super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        return False

    def save_model(self, request, obj, form, change):
        data = form.cleaned_data
        if change:
            services.contract_template_update(
                template=obj,
                title=data["title"],
                body=data["body"],
                note=data.get("note", ""),
                actor=request.user,
            )
        else:
            created = services.contract_template_create(
                code=data["code"],
                title=data["title"],
                body=data["body"],
                note=data.get("note", ""),
                actor=request.user,
            )
            obj.pk, obj.version, obj.status = created.pk, created.version, created.status

    @admin.action(description="启用所选草稿版本", permissions=["change"])
    def activate_action(self, request, queryset):
        run_per_row(
            self,
            request,
            queryset,
            lambda t: services.contract_template_activate(template=t, actor=request.user),
            "已启用",
        )

    @admin.action(description="复制为新版本(草稿)", permissions=["add"])
    def copy_action(self, request, queryset):
        run_per_row(
            self,
            request,
            queryset,
            lambda t: services.contract_template_copy(template=t, actor=request.user),
            "已复制",
        )

    def get_urls(self):
        return [
            path(
                "<path:object_id>/preview/",
                self.admin_site.admin_view(self.preview_view),
                name="lending_contracttemplate_preview",
            ),
            *super().get_urls(),
        ]

    def preview_view(self, request, object_id):
        template = self.get_object(request, unquote(object_id))
        if template is None:
            raise Http404("合同模板不存在")
        if not self.has_view_or_change_permission(request, template):
            raise PermissionDenied
        pdf = rendering.render_pdf(
            body=template.body, title=template.title, terms=rendering.sample_terms(template)
        )
        return pdf_response(pdf, f"preview-{template.code}-v{template.version}.pdf", inline=True)


class SignerInline(admin.TabularInline):
    model = ContractSigner
    fields = [
        "role",
        "member_name",
        "status",
        "signed_local",
        "device_id",
        "failed_attempts",
        "locked_local",
    ]
    readonly_fields = fields
    extra = 0
    can_delete = False
    verbose_name_plural = "签署方与签署状态"

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("member").defer("signature")

    @admin.display(description="姓名")
    def member_name(self, obj):
        return obj.member.name

    @admin.display(description="签署时间")
    def signed_local(self, obj):
        return local_text(obj.signed_at)

    @admin.display(description="锁定至")
    def locked_local(self, obj):
        return local_text(obj.locked_until)

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


class EvidenceInline(admin.TabularInline):
    model = EvidenceRecord
    fields = ["sequence", "kind", "who", "at_local", "record_hash", "tsa_local"]
    readonly_fields = fields
    extra = 0
    can_delete = False
    verbose_name_plural = "存证记录(哈希链)"

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("signer__member").defer("tsa_token")

    @admin.display(description="签署方")
    def who(self, obj):
        return f"{obj.signer.get_role_display()} {obj.signer.member.name}" if obj.signer else "—"

    @admin.display(description="发生时间")
    def at_local(self, obj):
        return local_text(obj.at)

    @admin.display(description="可信时间")
    def tsa_local(self, obj):
        return local_text(obj.tsa_time) if obj.tsa_time else "待加盖"

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(Contract)
class ContractAdmin(TenantAdminMixin, admin.ModelAdmin):
    tenant_bank_field = "bank"
    tenant_village_field = "application__household__village"
    list_display = [
        "number",
        "borrower_name",
        "amount_text",
        "status",
        "rendered_local",
        "sealed_local",
    ]
    list_filter = ["status"]
    list_select_related = ["application__applicant", "template"]
    search_fields = ["number", "application__applicant__name"]
    actions = ["rerender_action"]
    inlines = [SignerInline, EvidenceInline]
    fields = [
        "number",
        "borrower_name",
        "amount_text",
        "template",
        "status",
        "rendered_local",
        "sealed_local",
        "sha256",
        "signed_sha256",
        "superseded_by",
        "downloads",
    ]
    readonly_fields = fields

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .without_pdfs()
            .select_related("application__applicant", "template", "superseded_by")
        )

    @admin.display(description="借款人")
    def borrower_name(self, obj):
        return obj.application.applicant.name

    @admin.display(description="合同金额(元)")
    def amount_text(self, obj):
        return obj.terms.get("amount", "")

    @admin.display(description="生成时间", ordering="rendered_at")
    def rendered_local(self, obj):
        return local_text(obj.rendered_at)

    @admin.display(description="银行签章时间")
    def sealed_local(self, obj):
        return local_text(obj.sealed_at)

    @admin.display(description="下载")
    def downloads(self, obj):
        label = "合同PDF" + ("(已签章)" if obj.signed_sha256 else "")
        links = [
            (reverse("admin:lending_contract_pdf", args=[obj.pk]), label),
            (reverse("admin:lending_contract_report", args=[obj.pk]), "证据报告(PDF)"),
        ]
        return format_html_join(" | ", '<a href="{}">{}</a>', links)

    @admin.display(description="下载")
    def report_download(self, obj):
        url = reverse("admin:lending_contract_report", args=[obj.pk])
        return format_html(
            '<a href="{}">证据报告(PDF)</a>（合同PDF含完整身份信息，需相应权限）', url
        )

    def get_fields(self, request, obj=None):
        # The PDF names the parties in full: its link only for those allowed to download it.
        if request.user.has_perm("lending.download_contract"):
            return self.fields
        return [*self.fields[:-1], "report_download"]

    def get_readonly_fields(self, request, obj=None):
        return self.get_fields(request, obj)

    def has_add_permission(self, request):
        return False  # contracts are rendered for approved applications, through the service

    def has_change_permission(self, request, obj=None):
        return False if obj is not None else super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        return False

    def has_rerender_permission(self, request):
        return not self._read_only(request) and request.user.has_perm("lending.add_contract")

    @admin.action(description="重新生成合同(原合同作废，须重新签署)", permissions=["rerender"])
    def rerender_action(self, request, queryset):
        run_per_row(
            self,
            request,
            queryset.select_related("application"),
            lambda c: services.contract_render(
                application=c.application, actor=request.user, rerender=True
            ),
            "已重新生成",
        )

    def changelist_view(self, request, extra_context=None):
        extra_context = {
            **(extra_context or {}),
            "may_render": self.has_rerender_permission(request),
        }
        return super().changelist_view(request, extra_context)

    def render_view(self, request):
        """Approved applications of the user's bank and villages without a live contract; POST
        renders one (the assisted path: a reviewer's approval, then the contract)."""
        from django.contrib import messages
        from django.shortcuts import get_object_or_404, redirect
        from django.template.response import TemplateResponse

        from common.errors import describe_error
        from lending.applications.models import APPROVED_STATUSES, Application
        from org.tenancy import scope_queryset

        if not self.has_rerender_permission(request):
            raise PermissionDenied
        waiting = scope_queryset(
            Application.objects.filter(status__in=APPROVED_STATUSES)
            .exclude(contracts__status__in=["pending", "signed"])
            .select_related("applicant", "product")
            .order_by("pk"),
            request.user,
        )
        if request.method == "POST":
            application = get_object_or_404(waiting, pk=request.POST.get("application"))
            try:
                contract = services.contract_render(application=application, actor=request.user)
            except ValidationError as exc:
                self.message_user(
                    request,
                    f"{application}：{describe_error(exc, model=self.model)}",
                    messages.ERROR,
                )
                return redirect("admin:lending_contract_render")
            self.message_user(request, f"已生成合同 {contract.number}", messages.SUCCESS)
            return redirect("admin:lending_contract_change", contract.pk)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": "为审批通过的申请生成合同",
            "applications": waiting[:200],
        }
        return TemplateResponse(request, "admin/lending/contract/render.html", context)

    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path("render/", view(self.render_view), name="lending_contract_render"),
            path("<path:object_id>/pdf/", view(self.pdf_view), name="lending_contract_pdf"),
            path(
                "<path:object_id>/report/", view(self.report_view), name="lending_contract_report"
            ),
            *super().get_urls(),
        ]

    def _downloadable(self, request, object_id, permission: str) -> Contract:
        contract = self.get_object(request, unquote(object_id))
        if contract is None:
            raise Http404("电子合同不存在")
        if not request.user.has_perm(permission):
            raise PermissionDenied
        return contract

    def pdf_view(self, request, object_id):
        contract = self._downloadable(request, object_id, "lending.download_contract")
        data = Contract.objects.filter(pk=contract.pk).values_list("signed_pdf", "pdf").get()
        return pdf_response(data[0] or data[1], f"{contract.number}.pdf")

    def report_view(self, request, object_id):
        """The evidence report: identities masked, so every role that reads the chain may have it."""
        found = self._downloadable(request, object_id, "lending.view_evidencerecord")
        contract = Contract.objects.select_related("bank", "template").get(pk=found.pk)
        return pdf_response(evidence_report_pdf(contract), f"{contract.number}-evidence.pdf")
