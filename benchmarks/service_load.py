"""Load on the HTTP service over loopback: batched vs unbatched (issue 6).

Starts `ragbridge serve`'s app for a bridge folder on 127.0.0.1 twice, with micro-batching
(`--max-batch`, default 16) and without (max batch 1), and drives each with `--clients`
concurrent clients sending the same fixed `--requests` POST /v1/bridge calls (nq-wiki dev
queries with their dense top-5 candidates from the run directory). Reports throughput,
p50/p95/p99 latency, errors, and the mean batch size the server ran:

    python benchmarks/service_load.py --bridge runs/nq-wiki-dense/bridge-sl/model
"""

from __future__ import annotations

import argparse
import asyncio
import socket
import statistics
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import uvicorn

from ragbridge.rundir import RunDir
from ragbridge.service import ServiceSettings, app_for_path


def _payloads(run: Path, count: int) -> list[dict[str, Any]]:
    items = RunDir(run).candidates("dev")
    return [{"query": c.example.query,
             "passages": [{"id": h.passage.id, "title": h.passage.title, "text": h.passage.text}
                          for h in c.hits[:5]]}
            for c in (items[n % len(items)] for n in range(count))]


async def _drive(url: str, payloads: list[dict[str, Any]], clients: int
                 ) -> tuple[list[float], int, float]:
    queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    for payload in payloads:
        queue.put_nowait(payload)
    latencies: list[float] = []
    errors = 0

    async def client(session: httpx.AsyncClient) -> None:
        nonlocal errors
        while not queue.empty():
            payload = queue.get_nowait()
            started = time.perf_counter()
            response = await session.post(f"{url}/v1/bridge", json=payload, timeout=300)
            latencies.append(1000 * (time.perf_counter() - started))
            errors += response.status_code != 200

    started = time.perf_counter()
    async with httpx.AsyncClient(limits=httpx.Limits(max_connections=clients)) as session:
        await asyncio.gather(*(client(session) for _ in range(clients)))
    return latencies, errors, time.perf_counter() - started


def _serve(app: Any) -> tuple[str, uvicorn.Server, threading.Thread]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port,
                                           log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    return f"http://127.0.0.1:{port}", server, thread


def _plot(latencies: dict[str, list[float]], path: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axis = plt.subplots(figsize=(6.5, 3.8))
    for name, values in latencies.items():
        ordered = sorted(values)
        axis.plot(ordered, [(n + 1) / len(ordered) for n in range(len(ordered))], label=name)
    axis.set(xlabel="request latency (ms)", ylabel="share of requests", title=title)
    axis.legend(fontsize=8)
    figure.tight_layout()
    figure.savefig(path, dpi=110)


def _percentile(values: list[float], share: float) -> float:
    return statistics.quantiles(values, n=100)[int(share * 100) - 1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bridge", type=Path, default=Path("runs/nq-wiki-dense/bridge-sl/model"))
    parser.add_argument("--run", type=Path, default=Path("runs/nq-wiki-dense"))
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--max-batch", type=int, default=16)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/service_load"))
    args = parser.parse_args()
    payloads = _payloads(args.run, args.requests)
    rows = []
    all_latencies: dict[str, list[float]] = {}
    for name, max_batch in (("unbatched (max batch 1)", 1),
                            (f"batched (max batch {args.max_batch})", args.max_batch)):
        app = app_for_path(args.bridge, ServiceSettings(max_batch=max_batch, max_wait_ms=10))
        url, server, thread = _serve(app)
        asyncio.run(_drive(url, payloads[:4], 1))  # warm-up
        batcher = app.state.batchers["bridge"]
        before = len(batcher.batches)
        latencies, errors, seconds = asyncio.run(_drive(url, payloads, args.clients))
        sizes = batcher.batches[before:]
        all_latencies[name] = latencies
        server.should_exit = True
        thread.join(timeout=10)
        rows.append((name, len(latencies) / seconds, statistics.median(latencies),
                     _percentile(latencies, 0.95), _percentile(latencies, 0.99), errors,
                     sum(sizes) / max(len(sizes), 1)))
    base = rows[0][1]
    lines = [f"{args.requests} POST /v1/bridge requests (nq-wiki dev, 5 passages each), "
             f"{args.clients} concurrent clients on loopback, bridge `{args.bridge}`", "",
             "| server | requests/s | p50 ms | p95 ms | p99 ms | errors | mean batch | "
             "throughput vs unbatched |", "|---|---:|---:|---:|---:|---:|---:|---:|"]
    lines += [f"| {name} | {rate:.1f} | {p50:.0f} | {p95:.0f} | {p99:.0f} | {errors} | "
              f"{batch:.1f} | {rate / base:.2f}x |"
              for name, rate, p50, p95, p99, errors, batch in rows]
    table = "\n".join(lines)
    print(table)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "table.md").write_text(table + "\n")
    _plot(all_latencies, args.out / "latency.png",
          f"{args.requests} requests, {args.clients} clients, loopback")


if __name__ == "__main__":
    main()
