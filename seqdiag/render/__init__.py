"""The rendering layer: every Rich table, panel and progress bar lives here, and nowhere else.

One module per command (`compare`, `sample`, `sweep`, `train`, `presets`, `plot`), the depth tables of `compare`
(`depth`), any measurement's table (`table`: a `seqdiag.table.TableSpec`, plain data, drawn), the progress bar
(`progress`), the one-line messages on stderr (`messages`) and what they share
(`common`). Results go to stdout; progress, warnings and errors to stderr, so `--json | jq` always works.

Names are importable from `seqdiag.render` itself, loaded on first use, so that importing the package stays cheap
(`seqdiag presets` never imports torch).
"""

from __future__ import annotations

import importlib
from typing import Any

_HOME = {
    "common": (
        "ZERO_INPUT SEVERITY_STYLE MIN_FILE_WIDTH Hanging stdout_console save_recording stderr_console fitted_table "
        "header input_cell prediction_cell marked_output steps_after cell_mark"
    ),
    "compare": (
        "per_step_table history_table finding_text verdict_panel verdict_box history_glance_table render_compare"
    ),
    "depth": "depth_tables",
    "table": "draw text_of STYLES",
    "sample": "p_target_strip render_sample",
    "sweep": "sweep_rates_table sweep_matrix_table render_sweep render_grid",
    "train": "loss_line render_trained",
    "presets": "render_presets",
    "plot": "render_plot",
    "progress": "training_progress",
    "messages": "print_error print_warning print_info",
    "check": "check_step_table render_check",
}
_MODULE_OF = {name: module for module, names in _HOME.items() for name in names.split()}


def __getattr__(name: str) -> Any:
    module = _MODULE_OF.get(name)
    if module is None:
        raise AttributeError(f"module 'seqdiag.render' has no attribute {name!r}")
    return getattr(importlib.import_module(f"seqdiag.render.{module}"), name)
