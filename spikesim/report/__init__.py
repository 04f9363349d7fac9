"""Reports: run directories (:mod:`~spikesim.report.rundir`, the only writer of them),
``report.md`` rendered from a run's tables (:mod:`~spikesim.report.markdown`), figures drawn from
the same tables (:mod:`~spikesim.report.figures`) and the Chrome/Perfetto timeline export
(:mod:`~spikesim.report.timeline`)."""

from spikesim.report.markdown import design_totals, markdown_table, render_report, text_table
from spikesim.report.rundir import (
    RUN_FILES,
    read_figure_tables,
    read_run_tables,
    staged_run_dir,
    write_comparison,
    write_report,
    write_run_dir,
    write_run_files,
    write_timeline,
)

__all__ = [
    "RUN_FILES",
    "design_totals",
    "markdown_table",
    "read_figure_tables",
    "read_run_tables",
    "render_report",
    "staged_run_dir",
    "text_table",
    "write_comparison",
    "write_report",
    "write_run_dir",
    "write_run_files",
    "write_timeline",
]
