"""Back-office requests of an account that must change its password go to the change page."""

from __future__ import annotations

from django.shortcuts import redirect
from django.urls import reverse


class PasswordChangeRequiredMiddleware:
    """A staff member whose password an administrator chose (``Staff.must_change_password``)
    is sent to the admin's password change page from every admin page until they change it.

    Only the admin is covered: API calls authenticate in the view, after middleware, and the
    API login refuses such an account (org.api.views.LoginView), so it never holds a token.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = getattr(request, "user", None)
        if (
            user is not None
            and user.is_authenticated
            and request.path.startswith(reverse("admin:index"))
            and request.path not in self._allowed_paths()
            and self._must_change(user)
        ):
            return redirect(f"{reverse('admin:password_change')}?next={request.path}")
        return self.get_response(request)

    @staticmethod
    def _must_change(user) -> bool:
        # Through the user's cached relation: the tenancy scope reads the same staff row, so an
        # admin page costs no extra query.
        staff = user.staff if hasattr(user, "staff") else None
        return staff is not None and staff.must_change_password

    @staticmethod
    def _allowed_paths() -> set[str]:
        return {
            reverse("admin:password_change"),
            reverse("admin:password_change_done"),
            reverse("admin:logout"),
            reverse("admin:login"),
            reverse("admin:jsi18n"),
        }
