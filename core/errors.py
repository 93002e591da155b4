"""The error hierarchy every layer raises; the CLI maps it to one-line messages and exit codes.

Each class's docstring is its meaning; messages say how to fix the problem. All are
picklable (plain args) because Prefect ships exceptions between processes.
"""

from __future__ import annotations


class PaperradarError(Exception):
    """Base class of every error paperradar raises on purpose."""

    exit_code = 1


class UserInputError(PaperradarError, ValueError):
    """The user asked for something invalid (bad date, empty query, unknown option value)."""

    exit_code = 2


class StoreMissingError(PaperradarError):
    """There is no database yet at the configured PAPERRADAR_HOME."""

    exit_code = 2


class StoreError(PaperradarError):
    """The DuckDB store could not be opened, migrated or written."""


class IngestError(PaperradarError):
    """A source could not be fetched or parsed."""


class SourceHTTPError(IngestError):
    """A source answered with an HTTP error status."""

    def __init__(self, url: str, status: int, detail: str = "") -> None:
        super().__init__(url, status, detail)
        self.url, self.status, self.detail = url, status, detail

    def __str__(self) -> str:
        extra = f": {self.detail}" if self.detail else ""
        return f"HTTP {self.status} from {self.url}{extra}"


class VectorIndexError(PaperradarError):
    """The vector index is missing or unusable."""


class IndexMissingError(VectorIndexError):
    """No vector index has been built yet."""

    exit_code = 2


class IndexMismatchError(VectorIndexError):
    """The FAISS index does not match its manifest or the database; rebuild it with `paperradar index`."""


class ModelLoadError(VectorIndexError):
    """The embedding model could not be loaded."""


class ClusterError(PaperradarError):
    """The Dask cluster for embedding could not be reached or started, or lost its work."""


class SourcesFailedError(PaperradarError):
    """One or more sources failed in a flow run; what the others delivered was still stored and published."""


class WriterBusyError(PaperradarError):
    """Another process (a flow run, a command) is writing the working database; try again later."""
