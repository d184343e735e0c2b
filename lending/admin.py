from lending.applications import admin as applications_admin  # noqa: F401  (贷款申请)
from lending.lines import admin as lines_admin  # noqa: F401  (授信额度, 预授信批次)
