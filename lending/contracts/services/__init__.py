"""Every write of contracts: templates (create, edit a draft, activate, copy to a new version),
render (and re-render, which supersedes), signing codes, signatures, the bank's seal, and the
timestamps of the evidence chain.

Locking order, everywhere: the application, then the contract. A render and a signature on the
same application therefore queue on the application row and never deadlock; every append to the
chain happens with the contract row locked (``evidence.evidence_append``).

A wrong signing code must count even though the call fails: the count is written and committed
in the service's own transaction, and the error is raised after it. A caller that wraps the call
in a larger transaction and lets the error escape rolls the count back; the API's sign view
therefore answers the error as a response instead of raising it.
"""

from lending.contracts.services._render import contract_render, evidence_timestamp_pending
from lending.contracts.services._signing import (
    CODE_TTL,
    LOCK_FOR,
    MAX_FAILURES,
    contract_sign,
    signing_code_request,
)
from lending.contracts.services._templates import (
    DEFAULT_TEMPLATE_CODE,
    DEFAULT_TEMPLATE_TITLE,
    contract_template_activate,
    contract_template_copy,
    contract_template_create,
    contract_template_default_ensure,
    contract_template_for,
    contract_template_update,
)

__all__ = [
    "CODE_TTL",
    "DEFAULT_TEMPLATE_CODE",
    "DEFAULT_TEMPLATE_TITLE",
    "LOCK_FOR",
    "MAX_FAILURES",
    "contract_render",
    "contract_sign",
    "contract_template_activate",
    "contract_template_copy",
    "contract_template_create",
    "contract_template_default_ensure",
    "contract_template_for",
    "contract_template_update",
    "evidence_timestamp_pending",
    "signing_code_request",
]
