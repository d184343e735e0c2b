from django.apps import AppConfig


class LendingConfig(AppConfig):
    name = "lending"
    verbose_name = "贷款业务"

    def ready(self) -> None:
        from lending.applications.tasks import register_schedules as application_schedules
        from lending.cob.tasks import register_schedules as cob_schedules
        from lending.contracts import checks  # noqa: F401  (the contract settings' system checks)
        from lending.lines.tasks import register_schedules
        from lending.loans.tasks import register_schedules as loan_schedules
        from org.roles import Role, grant

        register_schedules()  # nightly expiry of lines past their validity
        application_schedules()  # nightly expiry of applications left waiting
        loan_schedules()  # disbursements whose core call was lost, asked again
        cob_schedules()  # the nightly close of business, and chunks a lost worker left
        # Every staff role sees lines; the bank's administrator and risk officer run the
        # campaign's pre-approval and freeze, unfreeze or close lines.
        for role in Role:
            if role is not Role.PEER_EVALUATOR:
                grant(role, "lending.view_creditline", "lending.view_creditlinechange")
        # Applications: account managers create and submit them for their villages; every staff
        # role reads them (reviewers will act on them with the approval work).
        for role in Role:
            if role is not Role.PEER_EVALUATOR:
                grant(role, "lending.view_application", "lending.view_applicationevent")
        grant(
            Role.ACCOUNT_MANAGER,
            "lending.add_application",
            "lending.change_application",
        )
        grant(Role.BANK_ADMIN, "lending.add_application", "lending.change_application")
        for role in Role:
            if role is not Role.PEER_EVALUATOR:
                grant(role, "lending.view_approvaltask", "lending.view_applicationattachment")
        grant(Role.ACCOUNT_MANAGER, "lending.add_applicationattachment")
        # Reviewers act on the tasks drawn for them; the bank's administrator reassigns the
        # items of an absent reviewer.
        for role in (Role.BRANCH_REVIEWER, Role.CENTRAL_REVIEWER, Role.APPROVAL_OFFICER):
            grant(role, "lending.review_application")
        grant(Role.BANK_ADMIN, "lending.reassign_approvaltask")
        # Contracts: every staff role reads them and their evidence report (identities masked);
        # account managers render them and take signatures on the PAD. The contract PDF names
        # the parties in full, so downloading it goes with the identity permission: account
        # managers, reviewers and approvers. Templates are the federation's: its administrators
        # write them, banks' administrators read them.
        for role in Role:
            if role is not Role.PEER_EVALUATOR:
                grant(
                    role,
                    "lending.view_contract",
                    "lending.view_contractsigner",
                    "lending.view_evidencerecord",
                )
        for role in (Role.ACCOUNT_MANAGER, Role.BANK_ADMIN):
            grant(role, "lending.add_contract", "lending.change_contract")
        for role in (
            Role.ACCOUNT_MANAGER,
            Role.BRANCH_REVIEWER,
            Role.CENTRAL_REVIEWER,
            Role.APPROVAL_OFFICER,
        ):
            grant(role, "lending.download_contract")
        grant(Role.BANK_ADMIN, "lending.view_contracttemplate")
        grant(
            Role.FEDERATION_ADMIN,
            "lending.view_contracttemplate",
            "lending.add_contracttemplate",
            "lending.change_contracttemplate",
        )
        for role in (Role.BANK_ADMIN, Role.RISK_OFFICER):
            grant(
                role,
                "lending.change_creditline",
                "lending.add_linepreapproval",
                "lending.view_linepreapproval",
            )
        # Loans: every staff role reads them and the ledger; account managers draw on lines for
        # their villages and take repayments from the borrower's account; the bank's administrator retries or cancels a disbursement and takes
        # counter repayments. The sandbox core's accounts are the bank administrator's to open.
        for role in Role:
            if role is not Role.PEER_EVALUATOR:
                grant(
                    role,
                    "lending.view_loan",
                    "lending.view_instalment",
                    "lending.view_loantransaction",
                    "lending.view_loanevent",
                    "lending.view_journalentry",
                )
        # An account manager takes a repayment from the borrower's own account on the PAD (the
        # borrower present, "repay from the phone instead of carrying cash to the branch").
        grant(Role.ACCOUNT_MANAGER, "lending.add_loan", "lending.repay_loan")
        grant(
            Role.BANK_ADMIN,
            "lending.add_loan",
            "lending.disburse_loan",
            "lending.repay_loan",
            "lending.view_sandboxdepositaccount",
            "lending.add_sandboxdepositaccount",
            "lending.view_sandboxdeposittransaction",
        )
        # Write-off with maker-checker: the risk officer or the administrator asks, the
        # administrator approves (never their own request); both may classify by hand.
        for role in (Role.BANK_ADMIN, Role.RISK_OFFICER):
            grant(role, "lending.add_writeoff", "lending.view_writeoff", "lending.classify_loan")
        grant(Role.BANK_ADMIN, "lending.approve_writeoff", "lending.reverse_repayment")
        # The close of business: the bank's administrator starts, continues and watches it.
        grant(
            Role.BANK_ADMIN,
            "lending.run_cob",
            "lending.view_cobrun",
            "lending.view_cobchunk",
            "lending.view_cobloanfailure",
        )
