"""``manage.py verify_contracts``: check every contract's evidence chain, timestamps and seal."""

from django.core.management.base import BaseCommand, CommandError

from lending.contracts.models import Contract
from lending.contracts.verification import contract_verify


class Command(BaseCommand):
    help = "核验电子合同：存证链、可信时间戳与银行电子签章；有问题时退出码非零 (verify contracts)."

    def add_arguments(self, parser):
        parser.add_argument("--contract", help="只核验该合同编号")
        parser.add_argument("--bank", help="只核验该行社(机构代码)的合同")

    def handle(self, *args, **options):
        contracts = Contract.objects.select_related("bank").order_by("pk")
        if options["contract"]:
            contracts = contracts.filter(number=options["contract"])
        if options["bank"]:
            contracts = contracts.filter(bank__code=options["bank"])
        checked = broken = records = 0
        for contract in contracts.iterator(chunk_size=50):
            verdict = contract_verify(contract)
            checked += 1
            records += verdict.records
            if verdict.ok:
                if options["verbosity"] > 1:
                    self.stdout.write(f"  {contract.number}  通过（{verdict.records}条记录）")
                continue
            broken += 1
            first = f"，首个问题记录：{verdict.first_broken}" if verdict.first_broken else ""
            self.stdout.write(
                self.style.ERROR(f"✗ {contract.number}（{contract.bank.name}）{first}")
            )
            for problem in verdict.problems:
                self.stdout.write(f"    - {problem}")
        summary = f"共核验合同 {checked} 份、存证记录 {records} 条：通过 {checked - broken} 份，有问题 {broken} 份。"
        if broken:
            self.stdout.write(self.style.ERROR(summary))
            raise CommandError(f"{broken} 份合同核验未通过", returncode=1)
        self.stdout.write(self.style.SUCCESS(summary))
