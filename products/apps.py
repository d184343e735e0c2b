from django.apps import AppConfig
from django.db.models.signals import post_migrate


class ProductsConfig(AppConfig):
    name = "products"
    verbose_name = "产品工厂"

    def ready(self) -> None:
        from org.roles import Role, grant
        from products.reference import ensure_after_migrate

        post_migrate.connect(ensure_after_migrate, sender=self, dispatch_uid="products.reference")

        # Everyone who touches a loan reads the catalogue; product managers (risk officers and
        # bank administrators for their bank, the federation admin for the shared catalogue)
        # draft, submit and, as the second person, activate versions. Which products a holder
        # may change is decided by products.policy (owner), not by the permission alone.
        viewing = (
            "products.view_product",
            "products.view_productversion",
            "products.view_productstatuschange",
            "products.view_loanprimerate",
        )
        for role in Role:
            grant(role, *viewing)
        managing = (
            "products.add_product",
            "products.change_product",
            "products.add_productversion",
            "products.change_productversion",
            "products.activate_productversion",
        )
        grant(Role.RISK_OFFICER, *managing)
        grant(Role.BANK_ADMIN, *managing)
        grant(Role.FEDERATION_ADMIN, *managing, "products.add_loanprimerate")
