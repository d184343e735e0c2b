"""The admin's decision reports: back-tests (回测, ``backtests``) and rejection statistics
(拒绝原因统计, ``rejections``); importing the package registers both."""

from risk.decisions.admin_reports import backtests, rejections  # noqa: F401
