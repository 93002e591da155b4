"""Benchmark of the CPU embedding paths against plain sentence-transformers fp32, in one run.

Prints a table; copy it with the header lines into bench/RESULTS.md.

    python -m bench.embed --fixtures ../shared/fixtures [--n 2000] [--repeats 2]

Data: --n real papers sampled (fixed seed) from the daily-arXiv fixture; the text embedded
is index.embed.document_text(title, abstract), as `paperradar index` does.
- baseline: `SentenceTransformer(bundled all-MiniLM-L6-v2).encode(texts, batch_size=64,
  normalize_embeddings=True)`, fp32 torch on the CPU.
- onnx fp32: the exported, fused graph, run like the int8 one (index.onnx_backend).
- onnx int8, every MatMul int8: the recipe without its one fp32 layer.
- onnx int8 (the backend): the cached build `PAPERRADAR_EMBED_BACKEND=onnx-int8` uses;
  its queries go through the build's fp32 graph, as in the backend.
- the backend with int8 queries: the same documents, queries through the int8 graph.
- onnx int8, 128 tokens: the backend with texts cut at 128 tokens instead of 256.
The ONNX rows use one text per run, one run per core in parallel (index.onnx_backend).
Each is warmed up, then all are timed in turn, --repeats times; the best time counts.
Quality against the baseline's vectors: cosine (min, mean) over the --n texts, and MRR@10
of a retrieval proxy (the project has no hand-made search evaluation set yet): each
paper's title is a query whose one relevant document is that paper's abstract (abstract
only, without the title) among the --n abstracts; queries are embedded one at a time.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import platform
import random
import subprocess
import tempfile
import time
from collections.abc import Callable, Sequence
from datetime import date
from pathlib import Path

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

MODEL = "all-MiniLM-L6-v2"
SEED = 20261122
Encode = Callable[[Sequence[str]], np.ndarray]
Query = Callable[[str], np.ndarray]


def sample_papers(fixtures: Path, n: int) -> list[tuple[str, str, str]]:
    """(arxiv id, title, abstract) of `n` papers drawn with a fixed seed from daily-arXiv."""
    from ingest.arxiv_api import clean_text

    papers = []
    for path in sorted((fixtures / "daily-arxiv").glob("*.jsonl.gz")):
        with gzip.open(path, "rt", encoding="utf-8") as fh:
            for line in fh:
                rec = json.loads(line)
                papers.append((rec["id"], clean_text(rec["title"]), clean_text(rec["abstract"])))
    papers.sort()
    return random.Random(SEED).sample(papers, n)


def mrr_at_10(encode_docs: Encode, encode_query: Query, papers: list[tuple[str, str, str]]) -> float:
    from index.embed import document_text

    docs = encode_docs([document_text("", abstract)[2:] for _, _, abstract in papers])
    queries = np.stack([encode_query(" ".join(title.split())) for _, title, _ in papers])
    scores = queries @ docs.T
    total = 0.0
    for i, row in enumerate(scores):
        top = np.argpartition(-row, 10)[:10]
        top = top[np.argsort(-row[top])]
        hit = np.flatnonzero(top == i)
        total += 1.0 / (hit[0] + 1) if len(hit) else 0.0
    return total / len(papers)


def machine() -> str:
    model = platform.processor() or platform.machine()
    flags = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
            if line.startswith("flags"):
                flags = " (AVX-512 VNNI)" if "avx512_vnni" in line else " (no AVX-512 VNNI)"
                break
    except OSError:
        pass
    return f"{model}{flags}, {os.cpu_count()} CPUs"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fixtures", type=Path, default=Path("../shared/fixtures"))
    parser.add_argument("--n", type=int, default=2000, help="papers to embed")
    parser.add_argument("--repeats", type=int, default=2, help="timed rounds (best counts)")
    args = parser.parse_args()

    import onnxruntime
    import sentence_transformers
    import torch

    from index import onnx_backend
    from index.embed import document_text, model_source

    papers = sample_papers(args.fixtures, args.n)
    texts = [document_text(title, abstract) for _, title, abstract in papers]
    source = model_source(MODEL)
    baseline = onnx_backend.load_sentence_transformer(MODEL, source)
    work = Path(tempfile.mkdtemp(prefix="paperradar-bench-embed-"))

    start = time.perf_counter()
    built = onnx_backend.load_or_build(MODEL, source, work / "models")
    build_s = time.perf_counter() - start
    exporter = onnx_backend.load_sentence_transformer(MODEL, source)
    for name, int8, fp32_layers in (("fp32", False, 0), ("all-int8", True, 0)):
        (work / name).mkdir()
        onnx_backend.write_graph(exporter, MODEL, source, work / name, int8=int8,
                                 fp32_layers=fp32_layers)
    truncated = onnx_backend.OnnxEncoder(built)
    truncated.tokenizer.enable_truncation(128)

    def st_encode(batch: Sequence[str]) -> np.ndarray:
        return np.asarray(baseline.encode(list(batch), batch_size=64, normalize_embeddings=True,
                                          convert_to_numpy=True, show_progress_bar=False))

    def one(encode: Encode) -> Query:
        return lambda text: encode([text])[0]

    backend = onnx_backend.OnnxEncoder(built).encode
    fp32_queries = one(onnx_backend.OnnxEncoder(built, 1, graph=onnx_backend.QUERY_FILE).encode)
    paths: dict[str, tuple[Encode, Query]] = {
        "sentence-transformers fp32 (baseline)": (st_encode, one(st_encode)),
        "onnx fp32 (fused graph)": (onnx_backend.OnnxEncoder(work / "fp32").encode,
                                    fp32_queries),
        "onnx int8, every MatMul int8": (onnx_backend.OnnxEncoder(work / "all-int8").encode,
                                         fp32_queries),
        "**onnx int8 (the backend)**": (backend, fp32_queries),
        "the backend with int8 queries": (backend, one(backend)),
        "onnx int8, texts cut at 128 tokens": (truncated.encode, fp32_queries),
    }
    for encode, _ in paths.values():
        encode(texts[:64])
    seconds: dict[str, list[float]] = {name: [] for name in paths}
    vectors: dict[str, np.ndarray] = {}
    for _ in range(args.repeats):
        for name, (encode, _) in paths.items():
            if name == "the backend with int8 queries":
                continue  # the same documents as the row above: timed there
            start = time.perf_counter()
            vectors[name] = encode(texts)
            seconds[name].append(time.perf_counter() - start)
    vectors["the backend with int8 queries"] = vectors["**onnx int8 (the backend)**"]
    seconds["the backend with int8 queries"] = seconds["**onnx int8 (the backend)**"]

    base_name = next(iter(paths))
    base_s = min(seconds[base_name])
    mrr = {name: mrr_at_10(encode, query, papers) for name, (encode, query) in paths.items()}
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                            text=True).stdout.strip()
    dirty = subprocess.run(["git", "status", "--porcelain", "--", "index", "bench"],
                           capture_output=True, text=True).stdout.strip()
    print(f"date: {date.today()}  commit: {commit}{' + working tree' if dirty else ''}  "
          f"machine: {machine()}")
    print(f"torch {torch.__version__} ({torch.get_num_threads()} threads), onnxruntime "
          f"{onnxruntime.__version__}, sentence-transformers {sentence_transformers.__version__}; "
          f"{args.n} papers (seed {SEED}), best of {args.repeats} rounds; int8 build "
          f"{build_s:.0f} s, verification cosine "
          f"{json.loads((built / 'manifest.json').read_text())['verification']['cosine_min']}")
    print("MRR@10: proxy set (title -> own abstract among all abstracts), not a hand-made one")
    print()
    print("| path | papers/s | × baseline | cosine to baseline min / mean | MRR@10 | MRR vs baseline |")
    print("|---|---|---|---|---|---|")
    for name in paths:
        cosine = np.sum(vectors[name] * vectors[base_name], axis=1)
        rounds = ", ".join(f"{args.n / s:.1f}" for s in seconds[name])
        print(f"| {name} | {args.n / min(seconds[name]):.1f} ({rounds}) | "
              f"{base_s / min(seconds[name]):.2f} | {cosine.min():.4f} / {cosine.mean():.4f} | "
              f"{mrr[name]:.4f} | {100 * (mrr[name] / mrr[base_name] - 1):+.2f}% |")


if __name__ == "__main__":
    main()
