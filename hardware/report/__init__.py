"""Deployment reports: ``report.json`` (schema ``ckd-report/1``), ``report.md``, PNG plots, comparisons.

``write_deploy_report(out_dir, raw) -> Path`` is what ``ckd-deploy`` calls with its raw results.
"""
from ckd_toolchain.hardware.report.build import build_report, write_deploy_report
from ckd_toolchain.hardware.report.schema import SCHEMA_ID, load_report, validate_report

__all__ = ["SCHEMA_ID", "build_report", "load_report", "validate_report", "write_deploy_report"]
