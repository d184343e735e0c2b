from lending.applications import admin as applications_admin  # noqa: F401  (贷款申请)
from lending.applications import admin_review  # noqa: F401  (审批任务)
from lending.contracts import admin as contracts_admin  # noqa: F401  (合同模板, 电子合同)
from lending.lines import admin as lines_admin  # noqa: F401  (授信额度, 预授信批次)
