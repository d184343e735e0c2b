"""The admin's decision reports: back-tests (回测) and rejection statistics (拒绝原因统计)."""
