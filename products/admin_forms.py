"""Admin forms of the product factory. They only shape and pre-check input; the services write
(and check again inside their transaction)."""

from __future__ import annotations

from django import forms
from django.contrib import admin
from django.core.exceptions import ValidationError

from org.admin_mixins import add_service_errors
from org.models import Institution
from products import policy
from products.models import (
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
