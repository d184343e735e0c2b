"""Sign-in of peer-review evaluators with a one-time SMS code, as a Django authentication backend.

Going through ``django.contrib.auth.authenticate`` is what makes a wrong code count toward the
login lockout: django-axes' backend (first in ``AUTHENTICATION_BACKENDS``) refuses a locked
login or address before the code is looked at, and counts every failure Django signals.
"""

from __future__ import annotations

from common.masking import mask_phone
from common.pii import PHONE, blind_index
from villages.validation import FieldError, clean_mobile


def code_login_name(phone: str) -> str:
    """The name a code sign-in is counted under for the lockout (登录锁定): the masked phone and
    a short keyed hash, so the lock list never holds the full number yet two phones that share a
    mask are counted apart."""
    try:
        phone = clean_mobile(phone, required=True)
    except FieldError:
        return "短信验证码:无效号码"
    return f"短信验证码:{mask_phone(phone)}:{blind_index(phone, PHONE).hex()[:8]}"


class EvaluatorLoginCodeBackend:
    """``authenticate(request, username=code_login_name(phone), phone=…, login_code=…)``."""

    def authenticate(self, request, username=None, phone=None, login_code=None, **kwargs):
        if phone is None or login_code is None:
            return None
        from villages.services.peer_review import evaluator_login_code_verify

        return evaluator_login_code_verify(phone=phone, code=login_code)

    def get_user(self, user_id):
        # Sessions are not used by evaluators; tokens authenticate through knox.
        return None
