"""Admin forms of the product factory. They only shape and pre-check input; the services write
(and check again inside their transaction)."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from django import forms
from django.contrib import admin
from django.core.exceptions import ValidationError
from django.utils.html import format_html, format_html_join

from org.admin_mixins import add_service_errors
from org.models import Institution
from products import policy
from products.models import (
    CREDIT_GRADES,
    ApprovalLevel,
    Channel,
    CustomerSegment,
    LoanPrimeRate,
    Product,
    ProductVersion,
    RequiredDocument,
)
from products.parameters import PARAMETERS, parameter_label
from products.schedule import RepaymentMethod
from products.services import (
    lpr_check,
    product_create_check,
    product_update_check,
    product_version_create_check,
    product_version_validate,
)


def _checkboxes(label: str, choices) -> forms.MultipleChoiceField:
    return forms.MultipleChoiceField(
        label=label, choices=choices, required=False, widget=forms.CheckboxSelectMultiple
    )


def _decimal_text(value) -> str | None:
    """A number typed in a box, as the text the parameter stores; None for an empty box."""
    text = str(value if value is not None else "").strip()
    if not text:
        return None
    try:
        number = Decimal(text)
    except InvalidOperation:
        raise ValueError(text) from None
    if not number.is_finite():
        raise ValueError(text)
    return str(number)


class SpreadByGradeWidget(forms.Widget):
    """One box per rating grade (AAA … C) instead of a JSON object."""

    def value_from_datadict(self, data, files, name):
        return {grade: data.get(f"{name}_{grade}", "") for grade in CREDIT_GRADES}

    def value_omitted_from_data(self, data, files, name):
        return not any(f"{name}_{grade}" in data for grade in CREDIT_GRADES)

    def render(self, name, value, attrs=None, renderer=None):
        value = value if isinstance(value, dict) else {}
        cells = format_html_join(
            "",
            '<label style="margin-right:1em">{} <input type="text" inputmode="decimal" '
            'name="{}_{}" value="{}" size="6"></label>',
            (
                (grade, name, grade, "" if value.get(grade) is None else value.get(grade))
                for grade in CREDIT_GRADES
            ),
        )
        return format_html('<div class="spread-by-grade">{} 百分点</div>', cells)


class SpreadByGradeField(forms.Field):
    """``{"AAA": "0.30", …}`` from the boxes; grades left empty are left out. All empty is
    ``None`` (the form turns it into "no per-grade spreads" on a root product)."""

    widget = SpreadByGradeWidget

    def to_python(self, value):
        if not value:
            return None
        if not isinstance(value, dict):
            raise ValidationError("按评级加点格式不正确")
        spreads, wrong = {}, []
        for grade in CREDIT_GRADES:
            try:
                text = _decimal_text(value.get(grade))
            except ValueError:
                wrong.append(grade)
                continue
            if text is not None:
                spreads[grade] = text
        if wrong:
            raise ValidationError(f"评级 {'、'.join(wrong)} 的加点须为数字(百分点，如 0.30)")
        return spreads or None


APPROVAL_BAND_ROWS = 4


class ApprovalBandsWidget(forms.Widget):
    """Rows of "up to this amount → these approval levels", instead of a JSON list."""

    def value_from_datadict(self, data, files, name):
        rows = []
        for i in range(APPROVAL_BAND_ROWS):
            rows.append(
                {
                    "up_to": data.get(f"{name}_{i}_up_to", ""),
                    "levels": [
                        level
                        for level in ApprovalLevel.values
                        if data.get(f"{name}_{i}_{level}") in ("on", "1", "true", level)
                    ],
                }
            )
        return rows

    def value_omitted_from_data(self, data, files, name):
        return not any(f"{name}_{i}_up_to" in data for i in range(APPROVAL_BAND_ROWS))

    def render(self, name, value, attrs=None, renderer=None):
        bands = list(value) if isinstance(value, (list, tuple)) else []
        bands += [{"up_to": "", "levels": []}] * (APPROVAL_BAND_ROWS - len(bands))
        rows = []
        for i, band in enumerate(bands):
            boxes = format_html_join(
                "",
                '<label style="margin-right:1em"><input type="checkbox" name="{}_{}_{}"{}> {}'
                "</label>",
                (
                    (
                        name,
                        i,
                        level,
                        " checked" if level in (band.get("levels") or []) else "",
                        label,
                    )
                    for level, label in ApprovalLevel.choices
                ),
            )
            up_to = band.get("up_to")
            rows.append(
                format_html(
                    "<tr><td>第{}档</td><td>金额不超过 "
                    '<input type="text" inputmode="decimal" name="{}_{}_up_to" value="{}" '
                    'size="12"> 元</td><td>{}</td></tr>',
                    i + 1,
                    name,
                    i,
                    "" if up_to in (None, "") else up_to,
                    boxes,
                )
            )
        return format_html(
            '<table class="approval-bands"><thead><tr><th></th><th>金额上限</th>'
            "<th>审批层级(按 支行→集中审查→审批中心 顺序)</th></tr></thead><tbody>{}</tbody>"
            "</table>",
            format_html_join("", "{}", ((row,) for row in rows)),
        )


class ApprovalBandsField(forms.Field):
    """``[{"up_to": "100000", "levels": ["branch"]}, …]`` from the rows that have an amount or
    a level; ``None`` when every row is empty. Order and coverage are checked by the service
    (``products.parameters``), which names the band at fault."""

    widget = ApprovalBandsWidget

    def to_python(self, value):
        if not value:
            return None
        if not isinstance(value, (list, tuple)):
            raise ValidationError("审批权限格式不正确")
        bands = []
        for index, row in enumerate(value, 1):
            levels = list(row.get("levels") or [])
            try:
                up_to = _decimal_text(row.get("up_to"))
            except ValueError:
                raise ValidationError(f"第{index}档的金额上限须为数字(元)") from None
            if up_to is None and not levels:
                continue
            if up_to is None:
                raise ValidationError(f"第{index}档已选审批层级，请填写金额上限")
            bands.append({"up_to": up_to, "levels": levels})
        return bands or None


class ProductForm(forms.ModelForm):
    segments = _checkboxes("适用客群", CustomerSegment.choices)
    channels = _checkboxes("申请渠道", Channel.choices)

    class Meta:
        model = Product
        fields = [
            "code",
            "name",
            "series",
            "purpose",
            "segments",
            "channels",
            "owner",
            "parent",
            "description",
        ]

    def __init__(self, *args, user=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.user = user
        if "owner" in self.fields:
            bank_id = policy.actor_bank_id(user)
            banks = Institution.objects.filter(kind=Institution.Kind.BANK)
            self.fields["owner"].queryset = banks.filter(pk=bank_id) if bank_id else banks.none()
            self.fields["owner"].required = bank_id is not None
            self.fields["owner"].help_text = (
                "本行社产品" if bank_id else "省联社人员创建的产品归属省联社，全省行社共享"
            )
            if bank_id:
                self.initial.setdefault("owner", bank_id)
        if "parent" in self.fields:
            self.fields["parent"].queryset = (
                Product.objects.visible_to(user).filter(parent__isnull=True).order_by("code")
            )

    def clean(self):
        """The service's own checks, so a refusal shows on the form instead of failing the save."""
        cleaned = super().clean()
        if self.errors:
            return cleaned
        shared = {
            "name": cleaned.get("name") or "",
            "purpose": cleaned.get("purpose") or "",
            "segments": cleaned.get("segments") or [],
            "channels": cleaned.get("channels") or [],
        }
        try:
            if self.instance.pk is None:
                product_create_check(
                    code=cleaned.get("code") or "",
                    series=cleaned.get("series") or "",
                    owner=cleaned.get("owner"),
                    parent=cleaned.get("parent"),
                    **shared,
                )
            else:
                product_update_check(product=self.instance, **shared)
        except ValidationError as exc:
            add_service_errors(self, exc)
        return cleaned


class ProductActionForm(admin.helpers.ActionForm):
    reason = forms.CharField(label="原因/意见", required=False, max_length=300)


class ProductVersionForm(forms.ModelForm):
    repayment_methods = _checkboxes("还款方式", RepaymentMethod.choices)
    required_documents = _checkboxes("必备资料", RequiredDocument.choices)
    locked_parameters = _checkboxes(
        "锁定参数(子产品不得覆盖)", [(name, parameter_label(name)) for name in PARAMETERS]
    )
    spread_by_grade = SpreadByGradeField(
        label=parameter_label("spread_by_grade"),
        required=False,
        help_text="各评级在LPR上的加点；留空的评级按加点上限定价",
    )
    approval_bands = ApprovalBandsField(
        label=parameter_label("approval_bands"),
        required=False,
        help_text="按金额从小到大填写；最高一档须覆盖产品金额上限",
    )

    class Meta:
        model = ProductVersion
        fields = ["product", "effective_from", "change_note", "locked_parameters", *PARAMETERS]

    def __init__(self, *args, user=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.user = user
        if "product" in self.fields:
            manageable = [
                p.pk
                for p in Product.objects.visible_to(user).only("pk", "owner_id")
                if policy.can_manage_owner(user, p.owner_id)
            ]
            self.fields["product"].queryset = Product.objects.filter(pk__in=manageable)
        product = self.instance.product if self.instance.pk else None
        if product is not None and product.parent_id is not None:
            for name in PARAMETERS:
                self.fields[name].help_text = "留空 = 继承上级产品"

    def clean_repayment_methods(self):
        # An unticked box on a sub-product means "inherit", not "no method allowed".
        return self.cleaned_data["repayment_methods"] or None

    def clean_required_documents(self):
        return self.cleaned_data["required_documents"] or None

    def clean_spread_by_grade(self):
        # All boxes empty: on a sub-product "inherit"; on a root product "no per-grade spreads".
        spreads = self.cleaned_data["spread_by_grade"]
        product = self.instance.product if self.instance.pk else self.data_product()
        if spreads is None and product is not None and product.parent_id is None:
            return {}
        return spreads

    def data_product(self):
        field = self.fields.get("product")
        if field is None:
            return None
        try:
            return field.clean(self.data.get(self.add_prefix("product")))
        except ValidationError:
            return None

    def clean(self):
        cleaned = super().clean()
        product = self.instance.product if self.instance.pk else cleaned.get("product")
        if product is None or self.errors:
            return cleaned
        try:
            if self.instance.pk is None:
                # Whether the product may take a new version at all (retired, or a draft or
                # pending version already open), so that is refused here, not by the save.
                product_version_create_check(
                    product=product, effective_from=cleaned.get("effective_from")
                )
            product_version_validate(
                product=product,
                parameters={name: cleaned.get(name) for name in PARAMETERS},
                locked_parameters=cleaned.get("locked_parameters") or [],
                effective_from=cleaned.get("effective_from"),
                version=self.instance if self.instance.pk else None,
            )
        except ValidationError as exc:
            add_service_errors(self, exc)
        return cleaned


class LoanPrimeRateForm(forms.ModelForm):
    class Meta:
        model = LoanPrimeRate
        fields = ["effective_date", "lpr_1y", "lpr_5y_plus"]

    def clean(self):
        cleaned = super().clean()
        if not self.errors:
            try:
                lpr_check(
                    effective_date=cleaned["effective_date"],
                    lpr_1y=cleaned["lpr_1y"],
                    lpr_5y_plus=cleaned["lpr_5y_plus"],
                )
            except ValidationError as exc:
                add_service_errors(self, exc)
        return cleaned
