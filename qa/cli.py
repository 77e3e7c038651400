"""The `qa` command line: index, ask, serve (the one composition root)."""
from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Optional

import typer

from index.errors import IndexingError
from qa.errors import QAError
from qa.settings import Settings

app = typer.Typer(help="Grounded question answering over Indonesian documents.", no_args_is_help=True,
                  pretty_exceptions_enable=False)


def fail(exc: Exception) -> None:
    """Print a domain error as one line and exit 1 (no traceback for errors users can fix)."""
    typer.secho(f"error: {exc}", fg=typer.colors.RED, err=True)
    raise typer.Exit(1)


@app.callback()
def main(verbose: bool = typer.Option(False, "--verbose", "-v", help="log debug messages")) -> None:
    logging.basicConfig(level=logging.DEBUG if verbose else logging.INFO, format="%(levelname)s %(name)s: %(message)s")


@app.command("index")
def index_cmd(
    paths: Optional[list[Path]] = typer.Argument(None, help="files or folders of .txt/.md (default: bundled corpus)"),
    index_dir: Optional[Path] = typer.Option(None, help="where to write the index [QA_INDEX_DIR]"),
    rebuild: bool = typer.Option(False, help="re-embed everything, even unchanged documents"),
) -> None:
    """Build or update the index; only new or changed documents are embedded."""
    from qa.indexing import index_documents

    settings = Settings(**({"index_dir": index_dir} if index_dir else {}))
    try:
        report = index_documents(settings, paths or settings.corpus or None, rebuild=rebuild)
    except (IndexingError, QAError) as exc:
        fail(exc)
    typer.echo(report)


@app.command()
def ask(
    question: str = typer.Argument(..., help="a question in Indonesian or English"),
    top_k: int = typer.Option(3, min=1, max=10, help="number of citations"),
    as_json: bool = typer.Option(False, "--json", help="print the same JSON as POST /api/chat"),
    index_dir: Optional[Path] = typer.Option(None, help="index to use [QA_INDEX_DIR]"),
) -> None:
    """Answer one question from the command line."""
    from qa.pipeline import answer
    from web.app import build_engine
    from web.routes import to_response

    settings = Settings(**({"index_dir": index_dir} if index_dir else {}))
    engine = build_engine(settings)
    try:
        ans = answer(question, engine, top_k=top_k)
    except (IndexingError, QAError) as exc:
        fail(exc)
    if as_json:
        typer.echo(to_response(ans).model_dump_json(indent=2))
        return
    typer.echo(ans.answer)
    for c in ans.citations:
        typer.echo(f"  [{c.n}] {c.doc_id} #{c.sentence_index} ({c.start}-{c.end}) score={c.score}: {c.text}")


@app.command()
def serve(
    host: Optional[str] = typer.Option(None, help="interface to bind [QA_HOST, default 127.0.0.1]"),
    port: Optional[int] = typer.Option(None, help="port [QA_PORT, default 8000]"),
    index_dir: Optional[Path] = typer.Option(None, help="index to serve [QA_INDEX_DIR]"),
) -> None:
    """Serve the chat page and the HTTP API."""
    import uvicorn

    from web.app import create_app

    overrides = {k: v for k, v in {"host": host, "port": port, "index_dir": index_dir}.items() if v is not None}
    settings = Settings(**overrides)
    uvicorn.run(create_app(settings), host=settings.host, port=settings.port, log_level="info")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(app())
