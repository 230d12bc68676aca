"""`seqdiag presets`: the presets shipped with seqdiag."""

from __future__ import annotations

import dataclasses

from seqdiag.cli import (
    DebugOpt,
    JsonOpt,
    app,
    print_json,
    user_errors,
)


@app.command()
def presets(json_: JsonOpt = False, debug: DebugOpt = False) -> None:
    """List the presets shipped with seqdiag (the same files as configs/).

    Example: seqdiag presets, then seqdiag compare --config period3
    """
    with user_errors(debug):
        from seqdiag.config import preset_summaries

        summaries = preset_summaries()
        if json_:
            listed = [{**dataclasses.asdict(p), "config": p.config.to_dict()} for p in summaries]
            print_json({"command": "presets", "presets": listed})
            return
        from seqdiag.render.common import stdout_console
        from seqdiag.render.presets import render_presets

        render_presets(stdout_console(), summaries)
