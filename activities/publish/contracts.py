"""Contracts of the publish activities: the results PR (open, merge, close) and the analysis."""

from __future__ import annotations

from pydantic import Field

from activities.contracts import Contract, ExperimentRef
from api.experiment import AnalyzerSection

PUBLISH_RESULTS = "publish_results"
RUN_ANALYSIS = "run_analysis"
MERGE_RESULTS_PR = "merge_results_pr"
CLOSE_RESULTS_PR = "close_results_pr"


class PublishResultsInput(Contract):
    experiment: ExperimentRef
    summary_key: str
    title: str | None = None


class PublishedResults(Contract):
    branch: str
    pr_number: int
    pr_url: str


class RunAnalysisInput(Contract):
    experiment: ExperimentRef
    summary_key: str
    sections: list[AnalyzerSection]


class AnalysisOutcome(Contract):
    job_name: str
    succeeded: bool
    message: str | None = None
    analysis_key: str | None = Field(None, description="S3 key of analysis_final.json; the text stays in S3.")


class ResultsPullRequest(Contract):
    experiment: ExperimentRef
    pr_number: int
    branch: str
