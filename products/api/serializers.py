"""Input and output shapes of the product API. Validation of input against a product's terms
lives in ``products.preview`` (so the admin or other layers can reuse it), not here."""

from __future__ import annotations

from rest_framework import serializers

from products.models import (
    CREDIT_GRADES,
    Channel,
    CustomerSegment,
    LoanPrimeRate,
    Product,
    ProductVersion,
)
from products.parameters import PARAMETERS, ProductTerms
from products.schedule import RepaymentMethod


class OwnerSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    code = serializers.CharField()
    name = serializers.CharField()


class ProductListSerializer(serializers.ModelSerializer):
    series_display = serializers.CharField(source="get_series_display", read_only=True)
    purpose_display = serializers.CharField(source="get_purpose_display", read_only=True)
    status_display = serializers.CharField(source="get_status_display", read_only=True)
    owner = OwnerSerializer(allow_null=True, help_text="空 = 省联社产品(全省共享)")
    parent_id = serializers.IntegerField(allow_null=True)
    current_version_number = serializers.IntegerField(allow_null=True, read_only=True)

    class Meta:
        model = Product
        fields = [
            "id",
            "code",
            "name",
            "series",
            "series_display",
            "purpose",
            "purpose_display",
            "segments",
            "channels",
            "owner",
            "parent_id",
            "status",
            "status_display",
            "current_version_number",
        ]


class TermsSerializer(serializers.ModelSerializer):
    """Effective parameters (ProductTerms has the version's field names). Nested decimals are
    rendered as strings, like every other amount in the API."""

    version_id = serializers.IntegerField()
    version_ids = serializers.ListField(child=serializers.IntegerField())
    spread_by_grade = serializers.SerializerMethodField()
    approval_bands = serializers.SerializerMethodField()
    inherited = serializers.SerializerMethodField(help_text="沿用上级产品的参数")

    class Meta:
        model = ProductVersion
        fields = ["version_id", "version_ids", *PARAMETERS, "inherited"]

    def get_spread_by_grade(self, terms: ProductTerms) -> dict[str, str]:
        return terms.to_snapshot()["spread_by_grade"]

    def get_approval_bands(self, terms: ProductTerms) -> list[dict]:
        return terms.to_snapshot()["approval_bands"]

    def get_inherited(self, terms: ProductTerms) -> list[str]:
        return sorted(n for n, v in terms.sources.items() if v != terms.version_id)


class VersionBriefSerializer(serializers.ModelSerializer):
    status_display = serializers.CharField(source="get_status_display", read_only=True)

    class Meta:
        model = ProductVersion
        fields = ["id", "number", "status", "status_display", "effective_from", "change_note"]


class ProductDetailSerializer(ProductListSerializer):
    description = serializers.CharField()
    versions = VersionBriefSerializer(many=True)
    effective_on = serializers.DateField()
    effective_terms = TermsSerializer(allow_null=True)
    effective_terms_error = serializers.DictField(allow_null=True)

    class Meta(ProductListSerializer.Meta):
        fields = [
            *ProductListSerializer.Meta.fields,
            "description",
            "versions",
            "effective_on",
            "effective_terms",
            "effective_terms_error",
        ]


class AvailabilityQuerySerializer(serializers.Serializer):
    """Either a household (bank, segment and age are read from it) or the plain inputs
    ``segment`` and ``age`` (and ``bank`` for federation users); never both."""

    PLAIN_INPUTS = ("bank", "segment", "age")
    REQUIRED_WITHOUT_HOUSEHOLD = ("segment", "age")

    channel = serializers.ChoiceField(label="申请渠道", choices=Channel.choices)
    household = serializers.UUIDField(
        label="农户",
        required=False,
        help_text="按农户查询：行社、客群、户主年龄由该户推定，此时不能再填 bank/segment/age",
    )
    segment = serializers.ChoiceField(
        label="客群", choices=CustomerSegment.choices, required=False, help_text="未填农户时必填"
    )
    age = serializers.IntegerField(
        label="申请人年龄", min_value=0, max_value=150, required=False, help_text="未填农户时必填"
    )
    bank = serializers.IntegerField(label="法人行社", required=False)
    on = serializers.DateField(label="日期", required=False)

    def to_internal_value(self, data):
        # Checked here rather than in validate() so a missing age is reported together with a
        # bad channel, as when segment and age were plain required fields.
        errors = self._input_form_errors(data)
        try:
            attrs = super().to_internal_value(data)
        except serializers.ValidationError as exc:
            raise serializers.ValidationError({**errors, **exc.detail}) from None
        if errors:
            raise serializers.ValidationError(errors)
        return attrs

    def _input_form_errors(self, data) -> dict[str, list[str]]:
        def given(name: str) -> bool:
            return data.get(name) not in (None, "")

        if given("household"):
            return {
                name: ["已按农户查询，该项由农户推定，请勿同时填写"]
                for name in self.PLAIN_INPUTS
                if given(name)
            }
        return {
            name: [self.fields[name].error_messages["required"]]
            for name in self.REQUIRED_WITHOUT_HOUSEHOLD
            if not given(name)
        }


class AvailableProductSerializer(serializers.Serializer):
    product = ProductListSerializer()
    terms = TermsSerializer()


class SchedulePreviewQuerySerializer(serializers.Serializer):
    amount = serializers.DecimalField(label="贷款金额", max_digits=18, decimal_places=2)
    term_months = serializers.IntegerField(label="期限(月)", min_value=1)
    method = serializers.ChoiceField(
        label="还款方式", choices=RepaymentMethod.choices, required=False
    )
    annual_rate = serializers.DecimalField(
        label="年利率(%)",
        max_digits=9,
        decimal_places=6,
        required=False,
        help_text="不填则按 LPR + 评级加点 定价",
    )
    grade = serializers.ChoiceField(
        label="评级", choices=[(g, g) for g in CREDIT_GRADES], required=False
    )
    start_date = serializers.DateField(label="起息日", required=False)


class InstalmentSerializer(serializers.Serializer):
    number = serializers.IntegerField()
    period_start = serializers.DateField()
    due_date = serializers.DateField()
    days = serializers.IntegerField()
    principal = serializers.DecimalField(max_digits=18, decimal_places=2)
    interest = serializers.DecimalField(max_digits=18, decimal_places=2)
    total = serializers.DecimalField(max_digits=18, decimal_places=2)
    remaining_principal = serializers.DecimalField(max_digits=18, decimal_places=2)


class TotalsSerializer(serializers.Serializer):
    principal = serializers.DecimalField(max_digits=18, decimal_places=2)
    interest = serializers.DecimalField(max_digits=18, decimal_places=2)
    total = serializers.DecimalField(max_digits=18, decimal_places=2)


class SchedulePreviewSerializer(serializers.Serializer):
    version_id = serializers.IntegerField()
    amount = serializers.DecimalField(max_digits=18, decimal_places=2)
    term_months = serializers.IntegerField()
    method = serializers.CharField()
    frequency = serializers.CharField()
    settlement = serializers.CharField()
    annual_rate = serializers.DecimalField(max_digits=9, decimal_places=6, help_text="年利率(%)")
    rate_basis = serializers.CharField()
    start_date = serializers.DateField()
    instalments = InstalmentSerializer(many=True)
    totals = TotalsSerializer()


class LprSerializer(serializers.ModelSerializer):
    class Meta:
        model = LoanPrimeRate
        fields = ["effective_date", "lpr_1y", "lpr_5y_plus"]


class LprQuerySerializer(serializers.Serializer):
    on = serializers.DateField(label="日期", required=False)


class CloneSerializer(serializers.Serializer):
    code = serializers.CharField(label="新产品代码", max_length=40)
    name = serializers.CharField(label="新产品名称", max_length=100)
