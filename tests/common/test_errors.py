from django.core.exceptions import NON_FIELD_ERRORS, ValidationError

from common.errors import describe_error
from risk.models import Scorecard


def test_keys_prefix_messages_outside_the_admin():
    exc = ValidationError({"target": "目标列只有一个取值", NON_FIELD_ERRORS: "样本不足"})
    assert describe_error(exc) == "target：目标列只有一个取值；样本不足"


def test_model_fields_are_named_by_verbose_name_and_other_keys_dropped():
    exc = ValidationError({"status": "该评分卡已退役", "reason": "请填写退役原因"})
    assert describe_error(exc, model=Scorecard) == "状态：该评分卡已退役；请填写退役原因"


def test_plain_messages_are_joined():
    assert describe_error(ValidationError(["第一条", "第二条"])) == "第一条；第二条"
