"""``mgl suggest``: which unlabelled texts to label next, with the reasons for each."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from mgl.cli.predict import read_inputs, write_json_lines
from mgl.model.prediction_model import load_for_prediction
from mgl.model.suggestion import DEFAULT_STRATEGY, DEFAULT_SUGGESTIONS, STRATEGIES
from mgl.outputs import check_output_file

SUGGESTIONS_KIND = "suggestions"


def suggest(
    model: Annotated[Path, typer.Option(help="A model directory saved by 'mgl train --save'.")],
    input: Annotated[
        str,
        typer.Option(
            "--input",
            help="The unlabelled texts: a .jsonl, .csv, .tsv or .txt file (a 'text' column), or - for standard input.",
        ),
    ],
    n: Annotated[int, typer.Option("-n", "--n", help="How many texts to suggest.")] = DEFAULT_SUGGESTIONS,
    output: Annotated[str, typer.Option(help="A .jsonl file of suggestions, best first; - for standard output.")] = "-",
    strategy: Annotated[
        str,
        typer.Option(
            help=f"{', '.join(STRATEGIES)}: margin balanced with diversity (diverse), the most torn first (margin), the highest entropy, or a random choice."
        ),
    ] = DEFAULT_STRATEGY,
    text_column: Annotated[str, typer.Option(help="The column (JSON key) holding the text.")] = "text",
    format: Annotated[
        str | None, typer.Option(help="The input's format where its suffix does not say (standard input: txt).")
    ] = None,
    encoding: Annotated[str | None, typer.Option(help="The input's text encoding (default: UTF-8).")] = None,
    seed: Annotated[int, typer.Option(help="Seed of the k-means (diverse) or of the random choice.")] = 0,
    device: Annotated[str | None, typer.Option(help="cpu, cuda, cuda:N; default: CUDA when present.")] = None,
    quiet: Annotated[bool, typer.Option("--quiet", help="No progress bars.")] = False,
    overwrite: Annotated[
        bool, typer.Option("--overwrite", help="--output may replace a file mgl did not write.")
    ] = False,
) -> None:
    """Rank unlabelled texts by the value of their label: the model's uncertainty (margin, entropy)
    balanced with diversity in embedding space; each suggestion says why (its margin and its nearest
    labelled example). Label them, add them to the training data, train again."""
    to_stdout = output == "-"
    out = Path(output)
    if not to_stdout:
        out = check_output_file(out, kind=SUGGESTIONS_KIND, overwrite=overwrite, inputs=[input], option="--output")
    texts, pairs, ids = read_inputs(input, text_column=text_column, fmt=format, encoding=encoding)
    clf = load_for_prediction(model, device=device)
    suggestions = clf.suggest(texts, n, pairs=pairs, strategy=strategy, seed=seed, progress=not quiet)
    records = ({"id": ids[s["position"]], **s} for s in suggestions)
    write_json_lines(records, None if to_stdout else out, kind=SUGGESTIONS_KIND)
    typer.echo(
        f"suggested {len(suggestions)} of {len(texts)} texts to label ({strategy}) "
        f"to {'standard output' if to_stdout else out}",
        err=True,
    )


def register(app: typer.Typer) -> None:
    app.command("suggest")(suggest)
