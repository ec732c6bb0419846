"""Requests in flight against an OpenAI-compatible endpoint that adds a fixed latency.

`ragbridge llm-server`'s app (ragbridge.llms.server) on 127.0.0.1, with an ASGI middleware
that waits `--latency-ms` before each request (a remote endpoint's network and queueing
time), behind it a backend that answers at once (`echo`: the prompt's first words) or a
real one (`--llm smollm2-fp32`, which adds its own compute on these two cores). The
OpenAI-compatible client sends the same prompts with 1, 4 and 16 requests in flight and
with the level it finds itself (auto); each row is requests a second and its ratio to one
at a time, measured in the same run.

    python benchmarks/endpoint_concurrency.py --latency-ms 200 --prompts 64 \\
        --out benchmarks/results/endpoint_concurrency
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from collections.abc import Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from loopback import running  # noqa: E402 (the tests' uvicorn-on-a-free-port helper)

from ragbridge.llms import build_llm  # noqa: E402
from ragbridge.llms.base import GenerationSettings  # noqa: E402
from ragbridge.llms.openai_http import OpenAIChatLLM  # noqa: E402
from ragbridge.llms.server import create_app  # noqa: E402

SETTINGS = GenerationSettings(max_new_tokens=8)


class EchoLLM:
    """Answers at once with the prompt's first three words (the endpoint's own time is then
    only the added latency)."""

    identity = "echo"

    def generate(self, prompts: Sequence[str], settings: GenerationSettings) -> list[str]:
        return [" ".join(p.split()[:3]) for p in prompts]


def delayed_app(backend: object, latency: float) -> object:
    """The LLM server's app, each request held `latency` seconds before it is handled."""
    app = create_app(backend, "bench")

    @app.middleware("http")
    async def hold(request, call_next):  # type: ignore[no-untyped-def]
        await asyncio.sleep(latency)
        return await call_next(request)

    return app


def measure(url: str, prompts: list[str], concurrency: int | None) -> dict:
    """Requests a second for one in-flight setting (None: found by the client)."""
    client = OpenAIChatLLM("bench", base_url=url, concurrency=concurrency, timeout=120)
    started = time.perf_counter()
    outputs = client.generate(prompts, SETTINGS)
    seconds = time.perf_counter() - started
    return {"in_flight": "auto" if concurrency is None else concurrency,
            "settled_at": client.concurrency, "requests": len(outputs),
            "seconds": round(seconds, 3), "requests_per_s": round(len(outputs) / seconds, 2),
            "outputs": outputs}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--latency-ms", type=float, default=200.0)
    parser.add_argument("--prompts", type=int, default=64)
    parser.add_argument("--llm", default="echo", help="echo | any ragbridge LLM spec")
    parser.add_argument("--levels", default="1,4,16,auto")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()

    backend = EchoLLM() if args.llm == "echo" else build_llm(args.llm)
    prompts = [f"Question {i}: what is {i} plus {i}? Answer with a number."
               for i in range(args.prompts)]
    levels = [None if v == "auto" else int(v) for v in args.levels.split(",")]
    with running(delayed_app(backend, args.latency_ms / 1000)) as base:
        url = f"{base}/v1"
        measure(url, prompts[:2], 1)  # warm-up: the first request builds the connection
        rows = [measure(url, prompts, level) for level in levels]
    reference, replies = rows[0]["requests_per_s"], rows[0]["outputs"]
    for row in rows:
        row["speedup"] = round(row["requests_per_s"] / reference, 2)
        row["same_replies"] = row.pop("outputs") == replies
    header = (f"{args.prompts} chat requests, server adds {args.latency_ms:.0f} ms each, "
              f"backend {args.llm}")
    lines = [header, "", "| in flight | settled at | s | requests/s | x one at a time | "
             "same replies |", "|---|---|---|---|---|---|"]
    lines += [f"| {r['in_flight']} | {r['settled_at']} | {r['seconds']:.2f} | "
              f"{r['requests_per_s']:.2f} | {r['speedup']:.2f} | {r['same_replies']} |"
              for r in rows]
    print("\n".join(lines))
    if args.out:
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / "results.json").write_text(json.dumps(
            {"latency_ms": args.latency_ms, "prompts": args.prompts, "llm": args.llm,
             "rows": rows}, indent=2) + "\n")
        (args.out / "table.md").write_text("\n".join(lines) + "\n")
        plot(rows, header, args.out / "concurrency.png")


def plot(rows: list[dict], title: str, path: Path) -> None:
    """Requests a second by requests in flight."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axis = plt.subplots(figsize=(6, 3.5))
    labels = [f"{r['in_flight']}" + (f" ({r['settled_at']})" if r["in_flight"] == "auto"
                                     else "") for r in rows]
    axis.bar(labels, [r["requests_per_s"] for r in rows], color="#4c72b0")
    axis.set_xlabel("requests in flight")
    axis.set_ylabel("requests / s")
    axis.set_title(title, fontsize=9)
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)


if __name__ == "__main__":
    main()
