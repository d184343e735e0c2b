"""External data providers (外部数据): credit report, court data, borrowing intent, anti-fraud,
tax and social security, each behind one interface, called with a per-source timeout, logged,
and cached per bank with a per-source time to live."""
