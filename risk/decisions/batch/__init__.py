"""Campaign decisions in batch (整村授信批量决策): a campaign, a bank or the province run through a
product's strategy, producing the decisions the next issue pre-approves credit lines from.

A job takes its scope's households in chunks of consecutive ids. Each chunk is one transaction:
it reads the households' features (the ``HouseholdFeatures`` rows the nightly job keeps, computed
on the spot for a household that has none), their heads, list levels, application history and
external data, runs ``risk.decisions.engine.strategy_run`` over the columns, COPYs the decisions
into the table and bumps the job's counts. The unique (job, household) index and the chunk query
(households of the scope without a decision in this job) make every household decided at most
once per job: a retry or a redelivered task after a crash picks up where the last committed
chunk ended.

The applicant is the head of household; a campaign has no requested amount (the amount is the
limit), no device and no application history of its own beyond the head's recent applications.
Per bank, the strategy, rule sets, models and product terms are resolved once per job
(``strategy_prepare``), as an online decision resolves them for itself.

The package: ``inputs`` (what the engine reads for a chunk), ``copy`` (the COPY of its
decisions), ``jobs`` (the services).
"""

from risk.decisions.batch.copy import decisions_copy
from risk.decisions.batch.inputs import chunk_inputs, feature_columns, ids_valid
from risk.decisions.batch.jobs import (
    CHUNK_SIZE,
    JOB_PERMISSION,
    decision_chunk_run,
    decision_job_create,
    decision_job_fail,
    decision_job_purge,
    decision_job_run,
    decision_job_start,
)

__all__ = [
    "CHUNK_SIZE",
    "JOB_PERMISSION",
    "chunk_inputs",
    "decision_chunk_run",
    "decision_job_create",
    "decision_job_fail",
    "decision_job_purge",
    "decision_job_run",
    "decision_job_start",
    "decisions_copy",
    "feature_columns",
    "ids_valid",
]
