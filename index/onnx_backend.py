"""The fast CPU path: the sentence-transformers model as an int8 ONNX graph run by ONNX Runtime.

The graphs are built once from the local weights (export, BERT fusions, dynamic int8
quantisation), checked against the fp32 model, and cached under
`<models root>/<model slug>-onnx-int8/` with a manifest. Documents go through the int8
graph; queries, one short text each, through the fused fp32 graph, so only one side of a
score carries quantisation error. Measurements: bench/embed.py and bench/RESULTS.md.

- Export: `torch.onnx.export` of the transformer with eager attention (which ORT's BERT
  optimiser recognises), mean or CLS pooling and L2 normalisation inside the graph.
- Fusions: attention and embedding layer norm are fused; skip-layer-norm and bias-GELU are
  left as plain ops, because ORT's fused CPU kernels for them measured 4-6x slower here.
- Quantisation: dynamic int8, weights per output channel, on MatMul and Attention. The
  first feed-forward down-projection stays fp32: it alone costs most of the accuracy
  (per-tensor int8 everywhere gives cosine ~0.93, per-channel ~0.990, this ~0.992 at
  the worst of 2,000 abstracts) for ~10% of the speed.
- Running: texts are tokenised in one call, then run one text per run, longest first, on
  one ORT session with one thread per run and one run per physical core in parallel. One
  text per run was the fastest batch size measured (no padding; activations stay in
  cache) and makes a text's vector depend on that text alone: activations are quantised
  with a scale taken from the whole batch, so in a batch of 8 a vector moves with its
  batch-mates (cosine ~0.997 between two batchings).

These vectors differ a little from fp32 ones: the caller keeps them in their own vector
set (see index.embed.Embedder.vector_set).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import tempfile
import warnings
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from core.errors import ModelLoadError
from index.vectors import model_slug

VARIANT = "onnx-int8"
RECIPE = 1  # bump when the export or quantisation changes: older caches are rebuilt
MIN_COSINE = 0.99
DEFAULT_BATCH = 1  # see the module docstring: fastest here, and each vector depends on its text alone
MODEL_FILE, QUERY_FILE = "model.onnx", "query.onnx"
TOKENIZER_FILE, MANIFEST_FILE = "tokenizer.json", "manifest.json"
_OPSET = 17
_SLOW_FUSIONS = ["SkipLayerNormFusion", "BiasGeluFusion", "GeluFusion"]
_SOURCE_SUFFIXES = {".json", ".safetensors", ".bin", ".txt", ".model"}

# Real arXiv titles and opening sentences (metadata is CC0): fixed, so verification of a
# build is reproducible. The joined windows below reach the 256-token limit.
_SNIPPETS = (
    "GUI-Eyes: Tool-Augmented Perception for Visual Grounding in GUI Agents. Recent advances "
    "in vision-language models (VLMs) and reinforcement learning (RL) have driven progress in "
    "GUI automation. However, most existing methods rely on static, one-shot visual inputs and "
    "passive perception, lacking the ability to adaptively determine when, whether, and how to "
    "observe the interface.",
    "Analysis of AI Techniques for Orchestrating Edge-Cloud Application Migration. Application "
    "migration in edge-cloud system enables high QoS and cost effective service delivery. "
    "However, automatically orchestrating such migration is typically solved with heuristic "
    "approaches.",
    "CAMeL: Cross-modality Adaptive Meta-Learning for Text-based Person Retrieval. Text-based "
    "person retrieval aims to identify specific individuals within an image database using "
    "textual descriptions. Due to the high cost of annotation and privacy protection, "
    "researchers resort to synthesized data for the paradigm of pretraining and fine-tuning.",
    "AutoRev: Automatic Peer Review System for Academic Research Papers. Generating a review "
    "for an academic research paper is a complex task that requires a deep understanding of the "
    "document's content and the interdependencies between its sections. It demands not only "
    "insight into technical details but also an appreciation of the paper's overall coherence "
    "and structure.",
    "SeeThrough3D: Occlusion Aware 3D Control in Text-to-Image Generation. We identify "
    "occlusion reasoning as a fundamental yet overlooked aspect for 3D layout-conditioned "
    "generation. It is essential for synthesizing partially occluded objects with "
    "depth-consistent geometry and scale.",
    "DeCoDrift: Stabilizing Decoder Coupling in Closed-Loop Foundation Segmentation. Foundation "
    "segmentation models such as Segment Anything Model (SAM) are now routinely used in "
    "iterative pipelines, where each predicted mask is fed back as the next prompt. This "
    "practice turns segmentation into a closed-loop dynamical process, yet the decoder-level "
    "behavior of these systems remains largely unexamined.",
    "LLMs Struggle to Reject False Presuppositions when Misinformation Stakes are High. This "
    "paper examines how LLMs handle false presuppositions and whether certain linguistic "
    "factors influence their responses to falsely presupposed content. Presuppositions subtly "
    "introduce information as given, making them highly effective at embedding disputable or "
    "false information.",
    "Selective Aggregation of Attention Maps Improves Diffusion-Based Visual Interpretation. "
    "Numerous studies on text-to-image (T2I) generative models have utilized cross-attention "
    "maps to boost application performance and interpret model behavior. However, the distinct "
    "characteristics of attention maps from different attention heads remain relatively "
    "underexplored.",
    "A Subgoal-driven Framework for Improving Long-Horizon LLM Agents. Large language model "
    "(LLM)-based agents have emerged as powerful autonomous controllers for digital "
    "environments, including mobile interfaces, operating systems, and web browsers. Web "
    "navigation, for example, requires handling dynamic content and long sequences of actions, "
    "making it particularly challenging.",
    "M-MRE: Extending the Mutual Reinforcement Effect to Multimodal Information Extraction. "
    "Mutual Reinforcement Effect (MRE) is an emerging subfield at the intersection of "
    "information extraction and model interpretability. MRE aims to leverage the mutual "
    "understanding between tasks of different granularities, enhancing the performance of both "
    "coarse-grained and fine-grained tasks through joint modeling.",
    "Self-Supervised Real-Time Tracking of Military Vehicles in Low-FPS UAV Footage. "
    "Multi-object tracking (MOT) aims to maintain consistent identities of objects across "
    "video frames. Associating objects in low-frame-rate videos captured by moving unmanned "
    "aerial vehicles (UAVs) in actual combat scenarios is complex due to rapid changes in "
    "object appearance and position within the frame.",
    "Image Restoration Learning via Noisy Supervision in the Fourier Domain. Noisy supervision "
    "refers to supervising image restoration learning with noisy targets. It can alleviate the "
    "data collection burden and enhance the practical applicability of deep learning "
    "techniques.",
    "M3G: Multi-Granular Gesture Generator for Audio-Driven Full-Body Human Motion Synthesis. "
    "Generating full-body human gestures encompassing face, body, hands, and global movements "
    "from audio is a valuable yet challenging task in virtual avatar creation. Previous systems "
    "focused on tokenizing the human gestures framewisely and predicting the tokens of each "
    "frame from the input audio.",
    "Reinforcement Learning Elicits Contextual Learning of Unseen Language Translation. Prior "
    "work has shown that large language models (LLMs) can translate unseen or low-resource "
    "languages by undergoing continued training or even by encoding a grammar book in their "
    "context. However, both methods typically overfit specific languages, with limited "
    "zero-shot transfer at test time.",
    "TEMPER: Testing Emotional Perturbation in Quantitative Reasoning. Large language models "
    "are trained and evaluated on quantitative reasoning tasks written in clean, emotionally "
    "neutral language. However, real-world queries are often wrapped in frustration, urgency "
    "or enthusiasm.",
    "Context-aware Privacy Bounds for Linear Queries. Linear queries, as the basis of broad "
    "analysis tasks, are often released through privacy mechanisms based on differential "
    "privacy (DP), the most popular framework for privacy protection. However, DP adopts a "
    "context-free definition that operates independently of the data-generating distribution.",
)
VERIFY_TEXTS = _SNIPPETS + tuple(
    " ".join(_SNIPPETS[(i + j) % len(_SNIPPETS)] for j in range(4)) for i in range(len(_SNIPPETS))
)


def cache_dir(models_root: Path, model: str) -> Path:
    """Where the int8 build of `model` lives: `<models_root>/<model slug>-onnx-int8`."""
    return models_root / f"{model_slug(model)}-{VARIANT}"


def physical_cores() -> int:
    """CPUs this process may use, counting a core once when SMT is on (ORT's advice)."""
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        cpus = os.cpu_count() or 1
    try:
        smt = Path("/sys/devices/system/cpu/smt/active").read_text().strip() == "1"
    except OSError:
        smt = False
    return max(1, cpus // 2 if smt else cpus)


class OnnxEncoder:
    """Runs one graph of a build: texts in, L2-normalised float32 vectors out.

    `graph`: MODEL_FILE (int8, for documents) or QUERY_FILE (the fused fp32 graph: a query
    is one short text, so exact fp32 costs a few milliseconds and keeps the query side of
    every score free of quantisation error).
    """

    def __init__(
        self, directory: Path, threads: int = 0, batch_size: int = 0, graph: str = MODEL_FILE
    ) -> None:
        import onnxruntime as ort
        from tokenizers import Tokenizer

        self.manifest = json.loads((directory / MANIFEST_FILE).read_text())
        self.dimension = int(self.manifest["dimension"])
        self.workers = threads or physical_cores()
        self.batch_size = batch_size or DEFAULT_BATCH
        self.tokenizer = Tokenizer.from_file(str(directory / TOKENIZER_FILE))
        self.tokenizer.enable_truncation(int(self.manifest["max_length"]))
        self.tokenizer.no_padding()
        options = ort.SessionOptions()
        # Parallel runs of one thread each beat one run over all cores: most ops here are
        # too small to split well, and a thread never waits on another.
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        options.log_severity_level = 3  # ORT's notes on unused initialisers are noise here
        self.session = ort.InferenceSession(
            str(directory / graph), options, providers=["CPUExecutionProvider"],
            disabled_optimizers=_SLOW_FUSIONS,
        )
        self.inputs = [i.name for i in self.session.get_inputs()]

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """One vector per text, in order; runs (one text each by default) go in parallel."""
        if not texts:
            return np.zeros((0, self.dimension), np.float32)
        encodings = self.tokenizer.encode_batch(list(texts))
        order = np.argsort([-len(e.ids) for e in encodings], kind="stable")
        batches = [order[i : i + self.batch_size] for i in range(0, len(order), self.batch_size)]

        def run(batch: np.ndarray) -> np.ndarray:
            return self._run([encodings[i] for i in batch])

        out = np.empty((len(texts), self.dimension), np.float32)
        if self.workers == 1 or len(batches) == 1:
            results = map(run, batches)
            for batch, vectors in zip(batches, results, strict=True):
                out[batch] = vectors
        else:
            with ThreadPoolExecutor(min(self.workers, len(batches))) as pool:
                for batch, vectors in zip(batches, pool.map(run, batches), strict=True):
                    out[batch] = vectors
        return out

    def _run(self, encodings: list[Any]) -> np.ndarray:
        width = max(len(e.ids) for e in encodings)
        ids = np.zeros((len(encodings), width), np.int64)
        mask = np.zeros_like(ids)
        types = np.zeros_like(ids)
        for row, e in enumerate(encodings):
            ids[row, : len(e.ids)] = e.ids
            mask[row, : len(e.ids)] = 1
            types[row, : len(e.ids)] = e.type_ids
        feed = {"input_ids": ids, "attention_mask": mask, "token_type_ids": types}
        vectors: np.ndarray = self.session.run(None, {n: feed[n] for n in self.inputs})[0]
        return vectors


def load_or_build(model: str, source: Path, models_root: Path) -> Path:
    """The directory of a valid int8 build of `model` (weights in `source`), building it if needed.

    A cache whose manifest does not match (other weights, recipe or onnxruntime version,
    unreadable) is rebuilt. Raises ModelLoadError when the export fails or the build does
    not reproduce the fp32 vectors (cosine < 0.99); nothing is cached then.
    """
    directory = cache_dir(models_root, model)
    if _matches(directory, source):
        return directory
    return build(model, source, models_root)


def build(model: str, source: Path, models_root: Path) -> Path:
    """Export, optimise, quantise and verify `model`, then move it into the cache atomically."""
    models_root.mkdir(parents=True, exist_ok=True)
    final = cache_dir(models_root, model)
    work = Path(tempfile.mkdtemp(prefix=f".{final.name}.", dir=models_root))
    try:
        st = load_sentence_transformer(model, source)
        reference = st.encode(list(VERIFY_TEXTS), batch_size=16, normalize_embeddings=True,
                              convert_to_numpy=True, show_progress_bar=False)
        manifest = write_graph(st, model, source, work)
        manifest["verification"] = {"texts": len(VERIFY_TEXTS)}
        for graph, key in ((MODEL_FILE, "cosine"), (QUERY_FILE, "query_cosine")):
            vectors = OnnxEncoder(work, graph=graph).encode(VERIFY_TEXTS)
            cosine = np.sum(vectors * reference, axis=1)
            if float(cosine.min()) < MIN_COSINE:
                raise ModelLoadError(
                    f"the ONNX build of {model!r} ({graph}) does not reproduce its fp32 vectors "
                    f"on this machine (cosine {cosine.min():.4f} < {MIN_COSINE}): set "
                    "PAPERRADAR_EMBED_BACKEND=torch"
                )
            manifest["verification"] |= {f"{key}_min": round(float(cosine.min()), 5),
                                         f"{key}_mean": round(float(cosine.mean()), 5)}
        _write_json(work / MANIFEST_FILE, manifest)
        _install(work, final)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return final


def write_graph(
    st: Any, model: str, source: Path, directory: Path, *, int8: bool = True, fp32_layers: int = 1
) -> dict[str, Any]:
    """Write a runnable, unverified build of the loaded SentenceTransformer `st` to `directory`.

    The defaults are the recipe; `int8=False` (the fused fp32 graph) and `fp32_layers=0`
    (every MatMul int8) exist for bench/embed.py's comparisons.
    """
    import onnxruntime as ort

    info = _export(st, directory / "fp32.onnx")
    _optimise(directory / "fp32.onnx", directory / "opt.onnx", info)
    (directory / "fp32.onnx").unlink()
    if int8:
        _quantise(directory / "opt.onnx", directory / MODEL_FILE, info, fp32_layers)
        os.replace(directory / "opt.onnx", directory / QUERY_FILE)
    else:
        os.replace(directory / "opt.onnx", directory / MODEL_FILE)
    st.tokenizer.backend_tokenizer.save(str(directory / TOKENIZER_FILE))
    # sentence-transformers 6 renamed the method; 5 has only the old name
    dimension = getattr(st, "get_embedding_dimension", None) or st.get_sentence_embedding_dimension
    manifest = {
        "variant": VARIANT if int8 else "onnx-fp32",
        "recipe": RECIPE,
        "model": model,
        "source": str(source),
        "source_sha256": source_digest(source),
        "source_stat": _source_stat(source),
        "onnxruntime": ort.__version__,
        "dimension": int(dimension()),
        "max_length": info["max_length"],
        "pooling": info["pooling"],
        "fp32_layers": info["fp32_layers"],
        "built_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    _write_json(directory / MANIFEST_FILE, manifest)
    return manifest


def source_digest(source: Path) -> str:
    """sha256 over the model's weight, config and vocabulary files (names and contents)."""
    digest = hashlib.sha256()
    for path in _source_files(source):
        digest.update(str(path.relative_to(source)).encode() + b"\0")
        with open(path, "rb") as fh:
            while block := fh.read(1 << 20):
                digest.update(block)
    return digest.hexdigest()


def _source_files(source: Path) -> list[Path]:
    return sorted(p for p in source.rglob("*") if p.is_file() and p.suffix in _SOURCE_SUFFIXES)


def _source_stat(source: Path) -> list[list[Any]]:
    return [[str(p.relative_to(source)), p.stat().st_size, p.stat().st_mtime_ns]
            for p in _source_files(source)]


def _matches(directory: Path, source: Path) -> bool:
    """Whether the cache at `directory` is a complete build of these weights by this recipe."""
    import onnxruntime as ort

    try:
        manifest = json.loads((directory / MANIFEST_FILE).read_text())
    except (OSError, ValueError):
        return False
    if not isinstance(manifest, dict) or not all((directory / f).is_file()
                                                 for f in (MODEL_FILE, QUERY_FILE, TOKENIZER_FILE)):
        return False
    if (manifest.get("variant"), manifest.get("recipe"), manifest.get("onnxruntime")) != (
        VARIANT, RECIPE, ort.__version__
    ) or "verification" not in manifest:
        return False
    # Same files, sizes and times: the same weights, without reading 90 MB on every start.
    if manifest.get("source_stat") == _source_stat(source):
        return True
    return bool(manifest.get("source_sha256") == source_digest(source))


def _install(work: Path, final: Path) -> None:
    """Replace `final` by `work` with renames only, so a reader sees the old or the new build."""
    old = None
    if final.exists():
        old = final.with_name(f".{final.name}.old-{os.getpid()}")
        os.replace(final, old)
    try:
        os.replace(work, final)
    except OSError:
        if not final.exists():  # another process did not install one meanwhile
            raise
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def _write_json(path: Path, data: dict[str, Any]) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=2))
    os.replace(tmp, path)


def load_sentence_transformer(model: str, source: Path) -> Any:
    """The fp32 sentence-transformers model from `source`, on the CPU (ModelLoadError if not)."""
    from sentence_transformers import SentenceTransformer
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()  # type: ignore[no-untyped-call]
    try:
        return SentenceTransformer(str(source), device="cpu")
    except Exception as exc:  # the library raises many kinds (OSError, HF errors, ...)
        raise ModelLoadError(f"cannot load model {model!r} from {source}: {exc}") from None


def _export(st: Any, path: Path) -> dict[str, Any]:
    """fp32 ONNX of transformer + pooling + normalisation, dynamic in batch and length."""
    import torch

    modules = list(st)
    kinds = [type(m).__name__ for m in modules]
    if kinds[:2] != ["Transformer", "Pooling"] or any(k != "Normalize" for k in kinds[2:]):
        raise ModelLoadError(
            f"the onnx-int8 backend handles Transformer + Pooling (+ Normalize) models, not "
            f"{' + '.join(kinds)}: set PAPERRADAR_EMBED_BACKEND=torch"
        )
    pooling = getattr(modules[1], "pooling_mode", None)  # sentence-transformers >= 6
    if pooling is None:
        pooling = modules[1].get_pooling_mode_str()
    if pooling not in ("mean", "cls"):
        raise ModelLoadError(
            f"the onnx-int8 backend handles mean or CLS pooling, not {pooling!r}: "
            "set PAPERRADAR_EMBED_BACKEND=torch"
        )
    transformer = modules[0].auto_model
    names = [n for n in ("input_ids", "attention_mask", "token_type_ids")
             if n in st.tokenizer.model_input_names]

    class Encoder(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.transformer = transformer

        def forward(self, *inputs: torch.Tensor) -> torch.Tensor:
            kwargs = dict(zip(names, inputs, strict=True))
            hidden = self.transformer(**kwargs).last_hidden_state
            if pooling == "cls":
                pooled = hidden[:, 0]
            else:
                mask = kwargs["attention_mask"].unsqueeze(-1).to(hidden.dtype)
                pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
            return torch.nn.functional.normalize(pooled, p=2, dim=1)

    sample = st.tokenizer(["a short text", "a somewhat longer text to pad"], padding=True,
                          return_tensors="pt")
    axes = {n: {0: "batch", 1: "sequence"} for n in names}
    # Eager attention exports as the MatMul/Softmax pattern ORT fuses into its Attention op;
    # the caller's model gets its own attention back afterwards.
    attention = transformer.config._attn_implementation
    try:
        transformer.set_attn_implementation("eager")
        with warnings.catch_warnings(), torch.no_grad():
            warnings.simplefilter("ignore")  # tracer notes about shape-dependent Python code
            torch.onnx.export(
                Encoder().eval(), tuple(sample[n] for n in names), str(path),
                input_names=names, output_names=["embedding"],
                dynamic_axes={**axes, "embedding": {0: "batch"}},
                opset_version=_OPSET, dynamo=False,
            )
    except Exception as exc:
        raise ModelLoadError(f"cannot export the model to ONNX: {exc}") from None
    finally:
        transformer.set_attn_implementation(attention)
    config = transformer.config
    return {
        "pooling": pooling,
        "max_length": int(st.max_seq_length),
        "heads": int(config.num_attention_heads),
        "hidden": int(config.hidden_size),
        "intermediate": int(getattr(config, "intermediate_size", 4 * config.hidden_size)),
        "fp32_layers": [],
    }


def _optimise(source: Path, target: Path, info: dict[str, Any]) -> None:
    from onnxruntime.transformers.fusion_options import FusionOptions
    from onnxruntime.transformers.optimizer import optimize_model

    options = FusionOptions("bert")
    options.enable_skip_layer_norm = False
    options.enable_bias_skip_layer_norm = False
    options.enable_gelu = False
    options.enable_bias_gelu = False
    with _quiet():
        optimised = optimize_model(str(source), model_type="bert", num_heads=info["heads"],
                                   hidden_size=info["hidden"], opt_level=0,
                                   optimization_options=options)
        optimised.save_model_to_file(str(target))


def _quantise(source: Path, target: Path, info: dict[str, Any], fp32_layers: int) -> None:
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    graph = onnx.load(str(source), load_external_data=False).graph
    shapes = {i.name: tuple(i.dims) for i in graph.initializer}
    down = [n.name for n in graph.node if n.op_type == "MatMul"
            and shapes.get(n.input[1]) == (info["intermediate"], info["hidden"])]
    info["fp32_layers"] = down[:fp32_layers]
    with _quiet():
        quantize_dynamic(
            str(source), str(target), op_types_to_quantize=["MatMul", "Attention"],
            per_channel=True, weight_type=QuantType.QInt8, nodes_to_exclude=info["fp32_layers"],
            extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT},
        )


@contextmanager
def _quiet() -> Iterator[None]:
    """Silence the optimiser's and quantiser's advice (root logger, warnings) while they run."""
    level = logging.root.level
    logging.root.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        logging.root.setLevel(level)
