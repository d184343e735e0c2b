"""The demo's contracts: rendered for the approved applications of the demo banks, signed through
the codes the sandbox outbox received, and ``verify_contracts`` passing on them; a second run
adds nothing."""

from __future__ import annotations

from django.core.management import call_command

from lending.contracts.demo import seed_contracts
from lending.contracts.models import Contract, ContractStatus, TrustCertificate
from tests.lending.contract_setup import approved_application


def test_the_demo_contracts_verify(world, local_flow, django_capture_on_commit_callbacks, capsys):
    for sequence in (1030, 1040, 1050):
        approved_application(world, sequence, with_parties=False)
    # Each run inside the test's transaction: the texts go out when the block ends, and the next
    # run signs with them (as ``seed_demo`` does at once, outside any transaction).
    for _ in range(3):
        with django_capture_on_commit_callbacks(execute=True):
            seed_contracts()
    contracts = Contract.objects.order_by("pk")
    assert contracts.count() == 3
    assert [c.status for c in contracts] == [
        ContractStatus.SIGNED,
        ContractStatus.SIGNED,
        ContractStatus.PENDING,
    ]
    assert TrustCertificate.objects.filter(kind="seal").count() == 2  # one per demo bank

    call_command("verify_contracts")
    out = capsys.readouterr().out
    assert "共核验合同 3 份" in out
    assert "有问题 0 份" in out

    with django_capture_on_commit_callbacks(execute=True):
        seed_contracts()
    assert Contract.objects.count() == 3
