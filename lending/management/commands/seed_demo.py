from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from common.audit import audit_context
from lending.cob.demo import seed_servicing_history
from lending.contracts.demo import seed_contracts
from lending.demo import seed_applications, seed_lines
from lending.loans.demo import seed_loans
from org.demo import DEMO_PASSWORD, seed_org
from products.demo import seed_products
from risk.demo import seed_risk
from villages.demo import seed_villages


class Command(BaseCommand):
    # Lives in the top layer because it calls every app's demo builder, lowest layer first.
    help = "Build the demo province (idempotent: running it twice changes nothing)."

    def handle(self, *args, **options):
        if settings.PRODUCTION:
            # Every demo login shares a password printed below and in the README.
            raise CommandError(
                "生产环境不能运行 seed_demo：演示账号的密码是公开的 "
                "(seed_demo refuses to run in the production profile: the demo logins' "
                "password is published)"
            )
        with audit_context(command="seed_demo"), transaction.atomic():
            logins = seed_org()
            logins += seed_products()
            logins += seed_villages()
            logins += seed_risk()
            seed_lines()
            seed_applications()
        with audit_context(command="seed_demo"):
            # After the demo's transaction: signing codes are texted on commit, and the demo
            # reads them from the sandbox outbox as a phone would.
            seed_contracts()
            # Disbursements call the (sandbox) core outside any transaction, as in production.
            # First 120 days of history (drawn then, serviced and closed day by day), then
            # today's drawdowns.
            seed_servicing_history()
            seed_loans()
        if options["verbosity"] == 0:
            return
        self.stdout.write(self.style.SUCCESS("演示数据已就绪 (demo province ready)."))
        self.stdout.write(
            f"\n所有演示账号的密码 / password for every demo login: {DEMO_PASSWORD}\n"
        )
        width = max(len(login.username) for login in logins)
        for login in logins:
            self.stdout.write(
                f"  {login.username.ljust(width)}  {login.role}  {login.full_name}  @ {login.institution}"
            )
        self.stdout.write(
            "\nAdmin: http://127.0.0.1:8000/admin/   API docs: http://127.0.0.1:8000/api/v1/docs/\n"
        )
