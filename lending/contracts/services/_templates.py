"""Contract templates: drafts, activation, copies, the default, and which version a contract uses."""

from __future__ import annotations

from pathlib import Path

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from lending.applications.models import Application
from lending.contracts import rendering
from lending.contracts.models import (
    ContractTemplate,
    TemplateStatus,
)
from risk.lists.services import staff_of
from villages.validation import normalise_text

DEFAULT_TEMPLATE_CODE = "household_revolving"
DEFAULT_TEMPLATE_TITLE = "农户小额信用循环贷款合同"
DEFAULT_TEMPLATE_FILE = Path(__file__).parent.parent / "default_template.html"


# --- templates ---------------------------------------------------------------------------------


def _clean_template(*, title: str, body: str) -> tuple[str, str]:
    title = normalise_text(title or "")
    errors = {}
    if not title:
        errors["title"] = "请填写合同名称"
    if not (body or "").strip():
        errors["body"] = "请填写合同正文"
    if errors:
        raise ValidationError(errors)
    rendering.render_body(body, {})  # a syntax error names the field ``body``
    return title, body


@transaction.atomic
def contract_template_create(
    *, code: str, title: str, body: str, actor=None, note: str = ""
) -> ContractTemplate:
    """A draft: version 1 of a new code, or the next version of an existing one."""
    code = (code or "").strip()
    if not code:
        raise ValidationError({"code": "请填写模板编号"})
    title, body = _clean_template(title=title, body=body)
    latest = (
        ContractTemplate.objects.select_for_update()
        .filter(code=code)
        .aggregate(v=Max("version"))["v"]
    )
    return ContractTemplate.objects.create(
        code=code,
        version=(latest or 0) + 1,
        title=title,
        body=body,
        note=normalise_text(note or ""),
        created_by=staff_of(actor),
    )


@transaction.atomic
def contract_template_update(
    *, template: ContractTemplate, title: str, body: str, note: str = "", actor=None
) -> ContractTemplate:
    """Edit a draft. An active or retired version is what signed contracts were rendered from:
    it never changes (copy it to a new version instead)."""
    template = ContractTemplate.objects.select_for_update().get(pk=template.pk)
    if template.status != TemplateStatus.DRAFT:
        raise ValidationError(
            {"status": f"模板{template.get_status_display()}，不能修改；请复制为新版本后编辑"}
        )
    template.title, template.body = _clean_template(title=title, body=body)
    template.note = normalise_text(note or "")
    template.save(update_fields=["title", "body", "note", "updated_at"])
    return template


@transaction.atomic
def contract_template_activate(*, template: ContractTemplate, actor=None) -> ContractTemplate:
    """Draft → 已启用; the code's previously active version → 已停用. Contracts rendered from
    now on use this version; contracts already rendered keep theirs."""
    locked = list(
        ContractTemplate.objects.select_for_update().filter(code=template.code).order_by("pk")
    )
    template = next(t for t in locked if t.pk == template.pk)
    if template.status != TemplateStatus.DRAFT:
        raise ValidationError({"status": f"模板{template.get_status_display()}，只有草稿可以启用"})
    ContractTemplate.objects.filter(code=template.code, status=TemplateStatus.ACTIVE).update(
        status=TemplateStatus.RETIRED
    )
    template.status = TemplateStatus.ACTIVE
    template.activated_at = timezone.now()
    template.activated_by = staff_of(actor)
    template.save(update_fields=["status", "activated_at", "activated_by", "updated_at"])
    return template


def contract_template_copy(*, template: ContractTemplate, actor=None) -> ContractTemplate:
    """A new draft version of ``template``'s code with its text, to edit and activate."""
    return contract_template_create(
        code=template.code,
        title=template.title,
        body=template.body,
        actor=actor,
        note=f"复制自第{template.version}版",
    )


def contract_template_default_ensure() -> ContractTemplate:
    """The default template's active version, stored from ``default_template.html`` the first time
    a contract needs it, so a fresh database can contract without a setup step."""
    found = ContractTemplate.objects.filter(
        code=DEFAULT_TEMPLATE_CODE, status=TemplateStatus.ACTIVE
    ).first()
    if found is not None:
        return found
    with transaction.atomic():
        draft = contract_template_create(
            code=DEFAULT_TEMPLATE_CODE,
            title=DEFAULT_TEMPLATE_TITLE,
            body=DEFAULT_TEMPLATE_FILE.read_text(encoding="utf-8"),
            note="系统默认模板",
        )
        return contract_template_activate(template=draft)


def contract_template_for(application: Application) -> ContractTemplate:
    """The template version a contract for ``application`` is rendered from: the latest active
    version of the code its product version names; when that code has no active version (the demo
    products name codes nobody has written yet), the default 农户小额信用循环贷款合同."""
    from products.selectors import product_terms_effective

    code = (
        application.product_version.contract_template_code
        if application.product_version_id
        else None
    )
    if not code:
        terms = product_terms_effective(product=application.product, bank_id=application.bank_id)
        code = terms.contract_template_code
    for candidate in (code, DEFAULT_TEMPLATE_CODE):
        if not candidate:
            continue
        found = (
            ContractTemplate.objects.filter(code=candidate, status=TemplateStatus.ACTIVE)
            .order_by("-version")
            .first()
        )
        if found is not None:
            return found
    return contract_template_default_ensure()
