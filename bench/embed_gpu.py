"""GPU embedding throughput: the project's CUDA path against plain sentence-transformers, one run.

    python -m bench.embed_gpu --fixtures ../shared/fixtures [--n 50000]

Needs a CUDA GPU (exits with a message otherwise). Data: --n real abstracts from the
daily-arXiv fixture (title + abstract as `paperradar index` embeds them, 256 tokens).
- baseline: `SentenceTransformer(...).half().encode(texts, batch_size=512)` on CUDA;
- paperradar: `Embedder(device="cuda", backend="torch").encode_documents(texts)`: fp16,
  longest texts first, the next batch tokenised in a thread while the GPU runs this one.
Each is warmed up, then timed --repeats times; the best counts. Cosine between the two.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import time
from datetime import date
from pathlib import Path

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "true")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fixtures", type=Path, default=Path("../shared/fixtures"))
    parser.add_argument("--n", type=int, default=50_000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    import torch

    if not torch.cuda.is_available():
        raise SystemExit("no CUDA GPU here: this benchmark needs one (see bench/embed.py for CPU)")
    from bench.embed import sample_papers
    from index.embed import Embedder, document_text

    papers = sample_papers(args.fixtures, args.n)
    texts = [document_text(t, a) for _, t, a in papers]
    embedder = Embedder("all-MiniLM-L6-v2", device="cuda", backend="torch")
    embedder.load()

    def plain() -> np.ndarray:
        return embedder.model.encode(texts, batch_size=embedder.batch_size,
                                     normalize_embeddings=True, convert_to_numpy=True)

    rows = []
    for name, fn in (("sentence-transformers fp16 encode (baseline)", plain),
                     ("paperradar CUDA path (fp16, sorted, overlapped tokenisation)",
                      lambda: embedder.encode_documents(texts))):
        fn()
        best = float("inf")
        for _ in range(args.repeats):
            torch.cuda.synchronize()
            start = time.perf_counter()
            vectors = fn()
            torch.cuda.synchronize()
            best = min(best, time.perf_counter() - start)
        rows.append((name, len(texts) / best, vectors))
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                            text=True).stdout.strip()
    print(f"bench/embed_gpu.py, {date.today()}, commit {commit}, {torch.cuda.get_device_name()}, "
          f"torch {torch.__version__}, {len(texts)} abstracts, batch {embedder.batch_size}, "
          f"best of {args.repeats}")
    print()
    print("| path | abstracts/s | x baseline | cosine to baseline (min) |")
    print("|---|---|---|---|")
    base = rows[0][1]
    for name, rate, vectors in rows:
        cosine = float(np.min(np.sum(vectors * rows[0][2], axis=1)))
        print(f"| {name} | {rate:,.0f} | {rate / base:.2f} | {cosine:.4f} |")


if __name__ == "__main__":
    main()
