"""`seqdiag explain ID`: the long explanation of a finding, as `rustc --explain` gives one for an error code."""

from __future__ import annotations

from typing import Annotated

import typer

from seqdiag.cli import DebugOpt, JsonOpt, app, print_json, user_errors
from seqdiag.errors import SeqdiagError


@app.command()
def explain(
    finding_id: Annotated[
        str | None,
        typer.Argument(metavar="ID", help="A finding id, as printed in brackets: error[ID]. Omit it to list them."),
    ] = None,
    json_: JsonOpt = False,
    debug: DebugOpt = False,
) -> None:
    """Explain a finding: what it measures, when it fires, and what its help line has and has not tested.

    Example: seqdiag explain late-instability
    """
    with user_errors(debug):
        from seqdiag.explain import explanation, finding_ids

        ids = finding_ids()
        if finding_id is None:
            if json_:
                print_json({"command": "explain", "ids": ids})
            else:
                typer.echo("\n".join(ids))
            return
        text = explanation(finding_id)
        if text is None:
            raise SeqdiagError(f"{finding_id!r}: no such finding; valid ids: {', '.join(ids)}")
        if json_:
            print_json({"command": "explain", "ids": ids, "id": finding_id, "explanation": text})
        else:
            typer.echo(text.rstrip("\n"))
