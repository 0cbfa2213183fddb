"""The pull-request job: every stage's check for the stack, one report."""

from freetier.pr.run import REPORT_JSON, REPORT_MD, run_pr, write_report

__all__ = ["REPORT_JSON", "REPORT_MD", "run_pr", "write_report"]
