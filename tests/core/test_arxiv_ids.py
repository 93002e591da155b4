from __future__ import annotations

import pytest

from core.arxiv_ids import split_arxiv_id
from core.errors import UserInputError


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("2401.01234", ("2401.01234", None)),
        ("2401.01234v3", ("2401.01234", 3)),
        ("0704.0001", ("0704.0001", None)),
        ("http://arxiv.org/abs/2104.12255v1", ("2104.12255", 1)),
        ("https://arxiv.org/pdf/2104.12255v2.pdf", ("2104.12255", 2)),
        ("hep-th/9901001v2", ("hep-th/9901001", 2)),
        ("http://arxiv.org/abs/quant-ph/0201082v1", ("quant-ph/0201082", 1)),
        ("math.GT/0309136", ("math.GT/0309136", None)),
        ("arXiv:1707.08567", ("1707.08567", None)),
    ],
)
def test_split(raw: str, expected: tuple[str, int | None]) -> None:
    assert split_arxiv_id(raw) == expected


@pytest.mark.parametrize("raw", ["abc", "", "2401.123", "2401.01234vx", "hep-th/99"])
def test_rejects_non_ids(raw: str) -> None:
    with pytest.raises(UserInputError, match="not an arXiv id"):
        split_arxiv_id(raw)
