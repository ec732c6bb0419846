"""The shape of the package: no import cycles, a public API that imports with the core
install only, and CLI options that are the config dataclasses' own fields and defaults."""

from __future__ import annotations

import ast
import dataclasses
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import ragbridge

PACKAGE = Path(ragbridge.__file__).parent


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _runtime_imports(tree: ast.Module) -> list[str]:
    """Every `ragbridge...` import, at any depth, except under `if TYPE_CHECKING:`."""
    found: list[str] = []

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, ast.Import):
            found.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.extend(f"{node.module}.{alias.name}" for alias in node.names)
            found.append(node.module)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    return [name for name in found if name.split(".")[0] == "ragbridge"]


def import_graph() -> dict[str, set[str]]:
    """Module -> the package modules it imports (from ... import NAME counts only when NAME
    is itself a module)."""
    modules = {_module_name(p): p for p in PACKAGE.rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        targets = {t for t in _runtime_imports(ast.parse(path.read_text()))
                   if t in modules and t != name and t != "ragbridge"}
        graph[name] = targets
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle, or None."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def walk(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for target in sorted(graph.get(node, ())):
            if state.get(target) == 1:
                return stack[stack.index(target):] + [target]
            if target not in state and (cycle := walk(target)):
                return cycle
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (cycle := walk(node)):
            return cycle
    return None


def test_the_cycle_finder_finds_a_cycle() -> None:
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": set()}) is None


def test_no_module_imports_another_that_imports_it_back() -> None:
    graph = import_graph()
    assert "ragbridge.silver.stage" in graph and "ragbridge.cli" in graph
    assert find_cycle(graph) is None
    assert not any("ragbridge.cli" in targets for targets in graph.values())


def test_only_the_cli_and_the_demo_draw_in_the_terminal() -> None:
    graph = import_graph()
    drawing = {m for m, targets in graph.items() if "ragbridge.terminal" in targets}
    assert drawing == {"ragbridge.cli", "ragbridge.demo"}


def test_domain_code_does_not_know_the_run_directory() -> None:
    graph = import_graph()
    for module in ("ragbridge.silver.search", "ragbridge.silver.records",
                   "ragbridge.evaluation.scoring", "ragbridge.reranker.model",
                   "ragbridge.gap.probe", "ragbridge.judge", "ragbridge.bridge.sl",
                   "ragbridge.bridge.rl", "ragbridge.bridge.model", "ragbridge.bridge.data"):
        assert "ragbridge.rundir" not in graph[module], module


BLOCKER = textwrap.dedent("""
    import importlib.abc, sys
    BLOCKED = ("fastapi", "uvicorn", "matplotlib", "ray", "langchain_core", "llama_index",
               "haystack", "llama_cpp", "openai")
    class Block(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in BLOCKED:
                raise ImportError(f"{name} is not installed (blocked by the test)")
    sys.meta_path.insert(0, Block())
""")


def test_the_public_api_imports_with_the_core_install_only() -> None:
    script = BLOCKER + textwrap.dedent("""
        from ragbridge import (Bridge, BridgedRAG, PointwiseReranker, Selector, TopK, load_llm,
                               get_task, build_retriever, SLConfig, RLConfig, SilverConfig,
                               NoRetrieval, SilverOracle, Judge, RunDir, EvaluateConfig,
                               Retriever, LLM, Task)
        import ragbridge
        missing = [n for n in ragbridge.__all__ if getattr(ragbridge, n, None) is None]
        assert not missing, missing
        from ragbridge.records import Passage
        passages = [Passage("a", "one"), Passage("b", "two"), Passage("c", "three")]
        assert TopK(2).select_batch(["q"], [passages]) == [[0, 1]]
        assert NoRetrieval().select_batch(["q"], [passages]) == [[]]
        assert isinstance(TopK(1), Selector) and get_task("qa").name == "qa"
        assert isinstance(get_task("qa"), Task) and not isinstance(TopK(1), Task)
        from ragbridge.retrievers.bm25 import BM25Retriever
        bm25 = BM25Retriever(passages)
        assert isinstance(bm25, Retriever) and not isinstance(bm25, LLM)
        import ragbridge.cli  # the CLI too: serving and plots are optional
        print("ok")
    """)
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip().endswith("ok")


def test_plots_are_skipped_without_matplotlib(tmp_path: Path) -> None:
    script = BLOCKER + textwrap.dedent(f"""
        from pathlib import Path
        from ragbridge.render import plot_rl
        assert plot_rl({{"steps": [{{"iteration": 1}}], "dev": []}}, Path({str(tmp_path)!r}) /
                       "x.png", "t") is None
        print("ok")
    """)
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert result.returncode == 0 and result.stdout.strip() == "ok", result.stderr[-2000:]


def _commands() -> dict[str, object]:
    from ragbridge.cli import app

    return {c.name or c.callback.__name__.replace("_", "-"): c.callback
            for c in app.registered_commands}


STAGE_MODULES = {"retrieve": "retrievers.stage", "gap": "gap.stage", "silver": "silver.stage",
                 "train-sl": "bridge.sl_stage", "train-rl": "bridge.rl_stage",
                 "train-reranker": "reranker.stage", "evaluate": "evaluation.stage"}
REQUIRED = {"retrieve": {"dataset": "toy"}}  # fields without a default


def _capture_stage_config(monkeypatch: pytest.MonkeyPatch, stage: object) -> list[object]:
    """Replace `stage.run` by one that keeps the config it is handed and stops the command
    ("stop here", a usage error), with no LLM loaded; returns the configs seen."""
    from ragbridge.llms import LLMOptions

    seen: list[object] = []

    def fake_run(run_dir: object, config: object, *args: object, **kwargs: object) -> None:
        seen.append(config)
        raise ValueError("stop here")

    monkeypatch.setattr(stage, "run", fake_run)
    monkeypatch.setattr(LLMOptions, "load", lambda self: None)
    return seen


@pytest.mark.parametrize("command", list(STAGE_MODULES))
def test_a_command_without_options_gives_its_stage_the_configs_own_defaults(
        command: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Through click's parsing and back: `ragbridge COMMAND --run R` hands the stage exactly
    the config dataclass built with no arguments (a default lost or mistyped on the way, a
    tuple left a list, a path left a string, a flag inverted, would differ)."""
    import importlib

    from typer.testing import CliRunner

    from ragbridge.cli import app

    stage = importlib.import_module(f"ragbridge.{STAGE_MODULES[command]}")
    config_class = _commands()[command].configs["config"]  # type: ignore[attr-defined]
    seen = _capture_stage_config(monkeypatch, stage)
    required = REQUIRED.get(command, {})
    given = [item for name, value in required.items() for item in (f"--{name}", value)]
    result = CliRunner().invoke(app, [command, "--run", str(tmp_path), *given])
    assert "stop here" in result.output, result.output
    assert seen == [config_class(**required)]


def test_the_cli_builds_the_config_it_was_given(tmp_path: Path) -> None:
    """An option value reaches the config the stage receives (not just its default)."""
    from typer.testing import CliRunner

    from ragbridge import cli
    from ragbridge.silver.stage import SilverStageConfig

    seen: list[SilverStageConfig] = []

    def fake_run(run_dir: object, config: SilverStageConfig, llm: object,
                 progress: object = None) -> None:
        seen.append(config)
        raise ValueError("stop here")

    from ragbridge.llms import LLMOptions
    from ragbridge.silver import stage as silver

    original, load = silver.run, LLMOptions.load
    silver.run, LLMOptions.load = fake_run, lambda self: None  # type: ignore[assignment]
    try:
        result = CliRunner().invoke(cli.app, ["silver", "--run", str(tmp_path), "--split", "dev",
                                              "--max-length", "2", "--no-repeats",
                                              "--metric", "f1", "--limit", "7"])
    finally:
        silver.run, LLMOptions.load = original, load  # type: ignore[assignment]
    assert result.exit_code == 2 and "stop here" in result.output
    assert seen == [SilverStageConfig(split="dev", limit=7, search=dataclasses.replace(
        SilverStageConfig().search, max_length=2, allow_repeats=False, metric="f1"))]


def test_scripts_find_the_cache_where_the_library_does() -> None:
    """A script that looks into the cache honours RAGBRIDGE_CACHE, as `paths.cache_dir` does."""
    import re

    root = Path(__file__).resolve().parents[1]
    scripts = sorted([*root.glob("benchmarks/*.sh"), *root.glob("experiments/*.sh")])
    assert scripts, "no shell scripts found: the test would pass on nothing"
    hard_coded = [f"{script.name}:{number}" for script in scripts
                  for number, line in enumerate(script.read_text().splitlines(), start=1)
                  if re.search(r"\.cache/ragbridge", line) and "RAGBRIDGE_CACHE" not in line]
    assert hard_coded == []


@pytest.mark.parametrize("preset", ["default", "qwen-study"])
def test_rl_flags_given_to_train_rl_rebuild_the_recipes_rl_exactly(
        preset: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`ragbridge rl-flags` printed, then parsed by `train-rl`: the stage receives the
    recipe's RL config field for field (a flag dropped, misspelt or left at its default, a
    float printed so it parses differently, would differ), for every task of the preset."""
    import shlex

    from typer.testing import CliRunner

    from ragbridge.bridge import rl_stage
    from ragbridge.cli import app
    from ragbridge.recipes import RECIPES, rl_trainer

    seen = _capture_stage_config(monkeypatch, rl_stage)
    plan = RECIPES[preset]
    runner = CliRunner()
    for task in plan.tasks:
        printed = runner.invoke(app, ["rl-flags", "--preset", preset, "--task", task.dataset,
                                      "--seed", "2"])
        assert printed.exit_code == 0, printed.output
        result = runner.invoke(app, ["train-rl", "--run", str(tmp_path),
                                     *shlex.split(printed.output)])
        assert "stop here" in result.output, result.output
        train_n = {"nq-wiki": plan.sizes.silver_n, "email-subject": plan.sizes.email_silver_n}
        assert seen.pop() == rl_stage.RLStageConfig(
            dev_limit=plan.sizes.dev_n, train_limit=train_n[task.dataset],
            trainer=rl_trainer(task, plan.sizes, seed=2))
        assert rl_trainer(task, plan.sizes, 2) != rl_stage.RLConfig()  # flags were needed
