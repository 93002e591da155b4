"""Benchmark of the daily flow: `paperradar run` the first time, and again with nothing new.

Prints a table; copy it with the header lines into bench/RESULTS.md.

    python -m bench.flows --fixtures ../shared/fixtures [--repeat 3] [--models DIR]

The corpus is the recorded daily-arXiv data served by the loopback arXiv server (cs.CL
papers first submitted 2026-06-04..05 by default: 227 papers), Papers with Code and
Hugging Face by the loopback PwC server; everything runs in a fresh PAPERRADAR_HOME with
the int8 model build copied in (`--models`, or built once before timing). Each run is
`python -m flows.cli run` (the console script's code) in a child process, as cron or a user
runs it, timed from start to exit: interpreter, imports, Prefect's API, the flow,
publishing. Rows:

- first run: everything is new (ingest, enrich, embed, index, topics fit, publish);
- second run, nothing new: the same window again (the issue's target: under 20 s on
  2 cores), `--repeat` times;
- with `--baseline REV`: second runs of that revision's code (extracted with `git archive`),
  taking turns with these on the same home;
- the same with the Prefect API already up (as under `paperradar serve`, or with
  PREFECT_API_URL set): without the temporary API's start-up.

"flow" is the flow's own time from its summary line (`daily: ...; 10.1s`); the rest of the
wall time is start-up: interpreter and imports, the temporary Prefect API, shutting it
down. /proc/pressure/cpu before and after says how busy this shared box was.
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SUMMARY = re.compile(r"daily: .*; (\d+\.\d)s")
EMBEDDED = re.compile(r"embedded (\d+) \(reused (\d+)\)")
INDEX = re.compile(r"index (\d+) papers, ([^;]+);")


def run(env: dict[str, str], since: str, until: str, tree: Path = REPO) -> dict[str, object]:
    """`paperradar run` (as `python -m flows.cli`, the console script's code) of `tree`."""
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "flows.cli", "run", "--since", since, "--until", until],
                          env=env, cwd=tree, capture_output=True, text=True, timeout=900)
    wall = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"paperradar run failed ({done.returncode}):\n{done.stderr[-3000:]}")
    flow = float(SUMMARY.findall(done.stderr)[-1])
    embedded, reused = EMBEDDED.findall(done.stderr)[-1]
    indexed, state = INDEX.findall(done.stderr)[-1]
    return {"wall": wall, "flow": flow, "embedded": int(embedded), "reused": int(reused),
            "indexed": int(indexed), "index": state}


def pressure() -> str:
    try:
        return Path("/proc/pressure/cpu").read_text().splitlines()[0]
    except OSError:
        return "n/a"


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fixtures", type=Path, default=Path("../shared/fixtures"))
    parser.add_argument("--categories", default="cs.CL")
    parser.add_argument("--since", default="2026-06-04")
    parser.add_argument("--until", default="2026-06-05")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--models", type=Path, help="a models cache with the int8 build")
    parser.add_argument("--baseline", help="a git revision whose second runs take turns with "
                        "these (same home), e.g. 27b5366: Prefect's client starting its API")
    args = parser.parse_args()
    baseline = None
    if args.baseline:
        baseline = Path(tempfile.mkdtemp(prefix="paperradar-bench-baseline-"))
        archive = subprocess.run(["git", "archive", args.baseline], cwd=REPO, capture_output=True,
                                 check=True).stdout
        subprocess.run(["tar", "-x", "-C", str(baseline)], input=archive, check=True)

    sys.path.insert(0, str(REPO))
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    from tests.support.arxiv_server import ArxivFixtureServer
    from tests.support.pwc_server import PwCFixtureServer

    home = Path(tempfile.mkdtemp(prefix="paperradar-bench-flows-")) / "home"
    home.mkdir()
    if args.models:
        shutil.copytree(args.models, home / "models")
    else:  # built once here, not in the timed runs
        from index import onnx_backend
        from index.embed import model_source

        onnx_backend.load_or_build("all-MiniLM-L6-v2", model_source("all-MiniLM-L6-v2"), home / "models")

    before = pressure()
    rows: list[tuple[str, dict[str, object]]] = []
    with ArxivFixtureServer(args.fixtures) as arxiv, PwCFixtureServer(fixtures_dir=args.fixtures) as pwc:
        env = {k: v for k, v in os.environ.items()
               if not k.startswith("PAPERRADAR_") and k != "PREFECT_API_URL"}
        env.update(PAPERRADAR_HOME=str(home), PAPERRADAR_CATEGORIES=args.categories,
                   PAPERRADAR_ARXIV_API_URL=arxiv.api_url, PAPERRADAR_ARXIV_DELAY="0",
                   PAPERRADAR_PWC_API_URL=pwc.pwc_url, PAPERRADAR_HF_API_URL=pwc.hf_url,
                   PAPERRADAR_ENRICH_DELAY="0", PAPERRADAR_DEVICE="cpu",
                   PREFECT_SERVER_ANALYTICS_ENABLED="false", DO_NOT_TRACK="1", COLUMNS="300")
        rows.append(("first run (temporary Prefect API)", run(env, args.since, args.until)))
        for _ in range(args.repeat):  # taking turns with the baseline, if any
            if baseline is not None:
                rows.append((f"second run, nothing new (temporary Prefect API), {args.baseline}",
                             run(env, args.since, args.until, baseline)))
            rows.append(("second run, nothing new (temporary Prefect API)",
                         run(env, args.since, args.until)))
        from prefect.server.api.server import SubprocessASGIServer

        server = SubprocessASGIServer()
        server.start()
        try:
            served = {**env, "PREFECT_API_URL": server.api_url}
            for _ in range(args.repeat):
                rows.append(("second run, nothing new (Prefect API already up)",
                             run(served, args.since, args.until)))
        finally:
            server.stop()
    after = pressure()
    shutil.rmtree(home.parent, ignore_errors=True)
    if baseline is not None:
        shutil.rmtree(baseline, ignore_errors=True)

    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True,
                            text=True).stdout.strip()
    dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=REPO,
                           capture_output=True, text=True).stdout.strip()
    print(f"date: {date.today()}  commit: {commit}{' (+ uncommitted changes)' if dirty else ''}  "
          f"machine: {cpu_model()}, {os.cpu_count()} cores, Python {platform.python_version()}")
    print(f"corpus: {args.categories} v1 {args.since}..{args.until}; cpu pressure before: {before}; "
          f"after: {after}")
    print("| run | wall (s) | flow (s) | start-up (s) | embedded | reused | index |")
    print("|---|---|---|---|---|---|---|")
    for name, r in rows:
        wall, flow = float(r["wall"]), float(r["flow"])  # type: ignore[arg-type]
        print(f"| {name} | {wall:.1f} | {flow:.1f} | {wall - flow:.1f} | {r['embedded']} | "
              f"{r['reused']} | {r['indexed']} papers, {r['index']} |")
    for label in dict.fromkeys(name for name, _ in rows if name.startswith("second")):
        walls = [float(r["wall"]) for name, r in rows if name == label]  # type: ignore[arg-type]
        if walls:
            print(f"{label}: median {statistics.median(walls):.1f} s, best {min(walls):.1f} s "
                  f"of {len(walls)}")


if __name__ == "__main__":
    main()
