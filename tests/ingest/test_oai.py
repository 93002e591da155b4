"""OAI-PMH: parsing of recorded arXiv responses, and harvests over loopback HTTP into a real DuckDB file."""

from __future__ import annotations

import gzip
import json
import pickle
import re
from collections.abc import Iterator
from dataclasses import replace
from datetime import date, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any
from xml.sax.saxutils import unescape

import pytest

from core.errors import IngestError, SourceHTTPError, UserInputError
from core.store import Store
from ingest._http import RetryPolicy
from ingest.arxiv_api import clean_text
from ingest.oai import (
    UNKNOWN_VERSION,
    BadResumptionTokenError,
    OAIArgumentError,
    OAIClient,
    OAIError,
    OAIPage,
    harvest,
    parse_get_record,
    parse_list_records,
    token_key,
    watermark,
)
from tests.support.records import author_names

FIXTURES = Path(__file__).resolve().parents[3] / "shared" / "fixtures"
OAI_DIR = FIXTURES / "arxiv-oai"
if not OAI_DIR.is_dir() or not (FIXTURES / "daily-arxiv").is_dir():
    pytest.skip(f"OAI-PMH fixtures not found under {FIXTURES}", allow_module_level=True)

HEP_TH = OAI_DIR / "hepcrawl_ListRecords_arXiv_physics-hep-th_2017-12-14.xml"
HEP_EX = OAI_DIR / "hepcrawl_ListRecords_arXiv_physics-hep-ex_2017-12-14.xml"
GETRECORDS = sorted((OAI_DIR / "getrecord").glob("*.xml"))
WEEK = (date(2026, 6, 1), date(2026, 6, 8))  # 2,125 cs records by datestamp
FAST = RetryPolicy(attempts=5, base_delay=0.05)
SKIP_COLUMNS = ("first_seen", "last_changed")

# Constructed (not recorded): the Kaggle snapshot's first line (0704.0001, real values)
# in arXiv's arXivRaw template, an old-style id with three versions, a deleted record and
# a classic resumption token.
RAW_PAGE = b"""<?xml version="1.0" encoding="UTF-8"?>
<OAI-PMH xmlns="http://www.openarchives.org/OAI/2.0/" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
<responseDate>2026-06-09T10:11:12Z</responseDate>
<request verb="ListRecords" metadataPrefix="arXivRaw" set="physics:hep-ph">http://export.arxiv.org/oai2</request>
<ListRecords>
<record><header><identifier>oai:arXiv.org:0704.0001</identifier><datestamp>2008-11-13</datestamp>
<setSpec>physics:hep-ph</setSpec></header><metadata>
<arXivRaw xmlns="http://arxiv.org/OAI/arXivRaw/"><id>0704.0001</id><submitter>Pavel Nadolsky</submitter>
<version version="v1"><date>Mon, 2 Apr 2007 19:18:42 GMT</date><size>37kb</size>
<source_type>D</source_type></version>
<version version="v2"><date>Tue, 24 Jul 2007 20:10:27 GMT</date><size>37kb</size>
<source_type>D</source_type></version>
<title>Calculation of prompt diphoton production cross sections at Tevatron and
  LHC energies</title><authors>C. Bal\\'azs, E. L. Berger, P. M. Nadolsky, C.-P. Yuan</authors>
<categories>hep-ph</categories><comments>37 pages, 15 figures; published version</comments>
<report-no>ANL-HEP-PR-07-12</report-no><journal-ref>Phys.Rev.D76:013009,2007</journal-ref>
<doi>10.1103/PhysRevD.76.013009</doi><abstract>  A fully differential calculation in perturbative
quantum chromodynamics is presented.
</abstract></arXivRaw></metadata></record>
<record><header status="deleted"><identifier>oai:arXiv.org:0704.0002</identifier>
<datestamp>2008-11-13</datestamp></header></record>
<record><header><identifier>oai:arXiv.org:hep-th/9901001</identifier><datestamp>2008-11-13</datestamp>
</header><metadata><arXivRaw xmlns="http://arxiv.org/OAI/arXivRaw/"><id>hep-th/9901001</id>
<submitter>A. Author</submitter>
<version version="v1"><date>Fri, 1 Jan 1999 09:00:00 GMT</date><size>10kb</size></version>
<version version="v2"><date>Mon, 8 Feb 1999 10:00:00 GMT</date><size>11kb</size></version>
<version version="v3"><date>Wed, 3 Mar 1999 11:30:00 GMT</date><size>12kb</size></version>
<title>An old-style identifier</title><authors>A. Author and B. Writer</authors>
<categories>hep-th math-ph math.MP</categories><abstract>Text &amp; more.</abstract></arXivRaw>
</metadata></record>
<resumptionToken cursor="0" completeListSize="2500">6960524|1001</resumptionToken>
</ListRecords>
</OAI-PMH>
"""


def envelope(inner: str) -> bytes:
    return (b'<?xml version="1.0" encoding="UTF-8"?>\n<OAI-PMH xmlns="http://www.openarchives.org/'
            b'OAI/2.0/"><responseDate>2026-06-09T10:11:12Z</responseDate><request>x</request>'
            + inner.encode() + b"</OAI-PMH>\n")


@lru_cache(maxsize=4)
def daily(month: str) -> tuple[dict[str, Any], ...]:
    """The daily-arxiv records of one listing month, read straight from its file."""
    with gzip.open(FIXTURES / "daily-arxiv" / f"arxiv-cs-{month}.jsonl.gz", "rt", encoding="utf-8") as fh:
        return tuple(json.loads(line) for line in fh)


def expected(since: date, until: date, categories: set[str] | None = None) -> dict[str, dict[str, Any]]:
    """Set cs, datestamp (update_date) in [since, until], any of `categories` (or archives).

    daily-arxiv has one file per listing month and update_date is the listing day
    (fixtures/SOURCES.md), so the files of the window's months hold all its records.
    """
    months = [f"{y}-{m:02d}" for y in range(since.year, until.year + 1) for m in range(1, 13)
              if f"{since:%Y-%m}" <= f"{y}-{m:02d}" <= f"{until:%Y-%m}"]
    found = {}
    for rec in (r for month in months for r in daily(month)):
        cats = rec["categories"].split()
        if not since.isoformat() <= rec["update_date"] <= until.isoformat():
            continue
        if not any(c.startswith("cs.") for c in cats):
            continue
        if categories is None or any(c in categories or c.split(".")[0] in categories for c in cats):
            found[rec["id"]] = rec
    return found


def expected_authors(rec: dict[str, Any], prefix: str) -> list[str]:
    """arXiv renders <authors> of arXivRaw from the submitted string ("A, B and C") and the
    <author> elements of arXiv from the parsed names; daily-arxiv has both (its parsed names
    sometimes keep an "X and Y" together, so the two can differ)."""
    if prefix == "arXiv":
        return author_names(rec)
    return [clean_text(n) for n in re.split(r",\s+|\s+and\s+", rec["authors"]) if n.strip()]


def paper_rows(db: Store) -> list[tuple[Any, ...]]:
    names = [n for n in db.query("SELECT * FROM papers LIMIT 0")[0] if n not in SKIP_COLUMNS]
    return db.query(f"SELECT {', '.join(names)} FROM papers ORDER BY arxiv_id")[1]


@pytest.fixture()
def oai(oai_server: Any) -> Iterator[Any]:
    oai_server.reset()
    yield oai_server
    oai_server.reset()


@pytest.fixture()
def store(tmp_path: Path) -> Iterator[Store]:
    with Store.open(tmp_path / "work.duckdb") as db:
        yield db


def client_for(server: Any, delay: float = 0.0) -> OAIClient:
    return OAIClient(server.oai_url, delay=delay, timeout=10, retry=FAST)


# ---------------------------------------------------------------- recorded responses


def _unescape(text: str) -> str:
    return unescape(text, {"&quot;": '"', "&apos;": "'"})


def _field(chunk: str, name: str) -> str | None:
    match = re.search(rf"<{name}>(.*?)</{name}>", chunk, re.S)
    return clean_text(_unescape(match[1])) if match else None


def _check_against_xml(paper: Any, chunk: str) -> None:
    """A parsed paper agrees with the values read from its record's XML text by regex."""
    assert paper.arxiv_id == _field(chunk, "id")
    assert paper.version == UNKNOWN_VERSION and paper.source == "oai"
    assert paper.categories == tuple(_field(chunk, "categories").split())  # type: ignore[union-attr]
    assert paper.primary_category == paper.categories[0]
    assert paper.title == _field(chunk, "title") and paper.abstract == _field(chunk, "abstract")
    assert paper.comment == _field(chunk, "comments")
    assert paper.journal_ref == _field(chunk, "journal-ref") and paper.doi == _field(chunk, "doi")
    created = _field(chunk, "created")
    assert paper.published == datetime.fromisoformat(created)  # type: ignore[arg-type]
    assert paper.updated == datetime.fromisoformat(_field(chunk, "updated") or created)  # type: ignore[arg-type]
    names = []
    for block in re.findall(r"<author>(.*?)</author>", chunk, re.S):
        parts = dict(re.findall(r"<(keyname|forenames|suffix)>(.*?)</\1>", block, re.S))
        names.append(" ".join(clean_text(_unescape(parts[k])) for k in ("forenames", "keyname", "suffix")
                              if parts.get(k)))
    assert paper.authors == tuple(names)


@pytest.mark.parametrize("path", [HEP_TH, HEP_EX], ids=["hep-th", "hep-ex"])
def test_recorded_list_records_parse(path: Path) -> None:
    content = path.read_bytes()
    page = parse_list_records(content, "arXiv")
    chunks = content.decode().split("<record>")[1:]
    assert len(page.papers) == len(chunks) == 3
    assert page.token is None and page.deleted == 0  # hepcrawl trimmed the page: no token
    assert page.response_date is not None and page.response_date.date() == date(2017, 12, 14)
    for paper, chunk in zip(page.papers, chunks, strict=True):
        _check_against_xml(paper, chunk)


def test_recorded_list_records_spot_values() -> None:
    first, second, third = parse_list_records(HEP_TH.read_bytes(), "arXiv").papers
    assert first.arxiv_id == "1412.8323" and first.authors == ("Philipp A Hoehn",)
    assert first.title == ("Toolbox for reconstructing quantum theory from rules on information "
                           "acquisition")
    assert first.published == datetime(2014, 12, 29) and first.updated == datetime(2017, 12, 13)
    assert first.categories == ("quant-ph", "gr-qc", "hep-th", "math-ph", "math.MP", "physics.hist-ph")
    assert first.abstract.startswith("We develop an operational approach") and "\n" not in first.abstract
    assert second.journal_ref == "J. Phys. A: Math. Theor. 51 (2018) 035201"
    assert second.doi == "10.1088/1751-8121/aa9c53" and second.comment == "7 pages"
    assert third.comment is None and third.doi == "10.1002/andp.201700188"
    assert third.authors[3] == "A. de Souza Dutra" and len(third.authors) == 5
    hep_ex = parse_list_records(HEP_EX.read_bytes(), "arXiv")
    assert [p.arxiv_id for p in hep_ex.papers] == ["1706.05371", "1706.09418", "1707.00874"]
    assert hep_ex.papers[1].journal_ref == "Eur. Phys. J. C (2017) 77:856"
    assert hep_ex.response_date == datetime(2017, 12, 14, 13, 0, 41)


def test_all_recorded_get_records_parse() -> None:
    assert len(GETRECORDS) == 12
    for path in GETRECORDS:
        content = path.read_bytes()
        paper = parse_get_record(content, "arXiv", url=path.name)
        assert paper is not None and path.stem.endswith(paper.arxiv_id), path.name
        _check_against_xml(paper, content.decode())
    by_id = {p.arxiv_id: p for p in (parse_get_record(f.read_bytes(), "arXiv") for f in GETRECORDS) if p}
    full = by_id["1401.2122"]
    assert full.authors == ("A. Sergyeyev",) and full.categories[0] == "math.AP"
    assert full.journal_ref == "Lett. Math. Phys. 108 (2018), no. 2, 359-376"
    assert full.doi == "10.1007/s11005-017-1013-4" and full.updated == datetime(2017, 10, 23)
    assert full.comment.startswith("16 pages, LaTeX, no figures, revised and abridged")  # type: ignore[union-attr]
    # Suffixes follow the name; affiliations are dropped; non-ASCII names survive.
    assert "R. W. IV" in by_id["1603.05976"].authors
    assert by_id["1604.05585"].authors[0] == "Günter Burigana"
    # This file has no XML declaration and its <arXiv> element inherits the OAI namespace.
    odd = by_id["1601.03238"]
    assert odd.authors[:2] == ("Planck Collaboration", "Jieci Wang") and odd.version == 0
    assert by_id["1603.05976"].abstract.endswith("ratio of $r<1\\times10^{-4}$.")


# ---------------------------------------------------------------- arXivRaw, deleted records, errors


def test_arxiv_raw_version_history_old_ids_and_deleted_records() -> None:
    page = parse_list_records(RAW_PAGE, "arXivRaw")
    assert page.token == "6960524|1001" and page.cursor == 0 and page.complete_size == 2500
    assert page.deleted == 1 and page.response_date == datetime(2026, 6, 9, 10, 11, 12)
    new, old = page.papers
    assert new.arxiv_id == "0704.0001" and new.version == 2
    assert new.published == datetime(2007, 4, 2, 19, 18, 42)
    assert new.updated == datetime(2007, 7, 24, 20, 10, 27)
    assert new.authors == ("C. Bal\\'azs", "E. L. Berger", "P. M. Nadolsky", "C.-P. Yuan")
    assert new.title == ("Calculation of prompt diphoton production cross sections at Tevatron "
                         "and LHC energies")
    assert new.journal_ref == "Phys.Rev.D76:013009,2007" and new.doi == "10.1103/PhysRevD.76.013009"
    assert new.comment == "37 pages, 15 figures; published version" and new.source == "oai"
    assert old.arxiv_id == "hep-th/9901001" and old.version == 3
    assert old.published == datetime(1999, 1, 1, 9) and old.updated == datetime(1999, 3, 3, 11, 30)
    assert old.authors == ("A. Author", "B. Writer") and old.abstract == "Text & more."
    assert old.categories == ("hep-th", "math-ph", "math.MP") and old.comment is None


def test_oai_errors_and_drift() -> None:
    empty = parse_list_records(envelope('<error code="noRecordsMatch">nothing</error>'))
    assert empty == OAIPage([], None, None, 0, datetime(2026, 6, 9, 10, 11, 12))
    with pytest.raises(BadResumptionTokenError) as bad_token:
        parse_list_records(envelope('<error code="badResumptionToken">expired</error>'))
    assert bad_token.value.code == "badResumptionToken"
    for code in ("badArgument", "cannotDisseminateFormat", "noSetHierarchy"):
        with pytest.raises(OAIArgumentError) as refused:
            parse_list_records(envelope(f'<error code="{code}">Invalid\n  set</error>'), url="U")
        assert isinstance(refused.value, UserInputError) and refused.value.exit_code == 2
        assert str(refused.value).startswith(f"OAI-PMH error {code} from U: Invalid set")
        assert "\n" not in str(refused.value)
    with pytest.raises(OAIError) as verb:
        parse_list_records(envelope('<error code="badVerb">Illegal verb</error>'))
    assert not isinstance(verb.value, UserInputError) and verb.value.exit_code == 1
    with pytest.raises(OAIArgumentError, match="idDoesNotExist"):
        parse_get_record(envelope('<error code="idDoesNotExist">unknown</error>'))
    for err in (bad_token.value, refused.value, verb.value):  # Prefect ships errors between processes
        copy = pickle.loads(pickle.dumps(err))
        assert type(copy) is type(err) and str(copy) == str(err)

    with pytest.raises(IngestError, match="neither <ListRecords> nor <error>"):
        parse_list_records(envelope("<ListSets/>"))
    with pytest.raises(IngestError, match="not an OAI-PMH response"):
        parse_list_records(b"<html><body>maintenance</body></html>")
    with pytest.raises(IngestError, match="malformed XML"):
        parse_list_records(RAW_PAGE[: len(RAW_PAGE) // 2])
    with pytest.raises(IngestError, match="metadataPrefix=arXivRaw"):
        parse_list_records(HEP_TH.read_bytes(), "arXivRaw")
    with pytest.raises(UserInputError, match="unknown metadata prefix"):
        parse_list_records(RAW_PAGE, "oai_dc")  # type: ignore[arg-type]
    entity = (b'<!DOCTYPE OAI-PMH [<!ENTITY e SYSTEM "file:///etc/passwd">]>'
              + RAW_PAGE.split(b"?>", 1)[1].replace(b"Text &amp; more", b"Text &e; more"))
    assert "root:" not in parse_list_records(entity, "arXivRaw").papers[1].abstract


def test_arxiv_format_version_is_unknown_and_never_overwrites(store: Store) -> None:
    raw = parse_list_records(RAW_PAGE, "arXivRaw").papers
    assert store.upsert_papers(raw).inserted == 2
    arxiv_format = parse_list_records(HEP_TH.read_bytes(), "arXiv").papers
    # The same id in the arXiv format (version 0), with other metadata: left alone.
    stale = replace(arxiv_format[0], arxiv_id="0704.0001")
    result = store.upsert_papers([stale, *arxiv_format])
    assert (result.inserted, result.updated, result.unchanged) == (3, 0, 1)
    rows = dict(store.query("SELECT arxiv_id, version FROM papers")[1])
    assert rows["0704.0001"] == 2 and rows["1412.8323"] == UNKNOWN_VERSION
    # A later arXivRaw record of a version-0 paper replaces it.
    newer = replace(raw[0], arxiv_id="1412.8323", version=1)
    assert store.upsert_papers([newer]).updated == 1


# ---------------------------------------------------------------- harvests over loopback HTTP


@pytest.mark.parametrize("prefix", ["arXivRaw", "arXiv"])
def test_multi_page_harvest_stores_each_expected_paper_once(oai: Any, store: Store, prefix: str) -> None:
    cats = {"cs.CL", "cs.CV"}
    want = expected(*WEEK, cats)
    everything = expected(*WEEK)
    assert len(everything) == 2125 and len(want) > 1500
    oai.page_size = 500
    oai.deleted = set(sorted(want)[:3])  # served as <header status="deleted">
    pages: list[OAIPage] = []
    with client_for(oai) as client:
        counts = harvest(store, client, "cs", *WEEK, prefix, cats,  # type: ignore[arg-type]
                         on_page=lambda page, _: pages.append(page))
    kept = {k: v for k, v in want.items() if k not in oai.deleted}
    assert counts["pages"] == 5 == len(pages) and counts["deleted"] == 3
    assert counts["records"] == 2122 and counts["inserted"] == len(kept)
    assert counts["skipped"] == 2122 - len(kept) and counts["requests"] == 5
    assert [p.cursor for p in pages] == [0, 500, 1000, 1500, 2000]
    assert {p.complete_size for p in pages} == {2125} and pages[-1].token is None

    rows = store.query("SELECT arxiv_id, title, abstract, authors, categories, comment, published, "
                       "updated, version, source FROM papers")[1]
    assert len(rows) == len({r[0] for r in rows}) == len(kept)
    for arxiv_id, title, abstract, authors, categories, comment, published, updated, version, src in rows:
        rec = kept[arxiv_id]
        assert title == clean_text(rec["title"]) and abstract == clean_text(rec["abstract"])
        assert authors == expected_authors(rec, prefix) and categories == rec["categories"].split()
        assert comment == (clean_text(rec["comments"]) or None) and src == "oai"
        assert published == updated == datetime.strptime(rec["versions"][0]["created"],
                                                         "%a, %d %b %Y %H:%M:%S %Z")
        assert version == (1 if prefix == "arXivRaw" else UNKNOWN_VERSION)

    params = oai.request_params()
    assert params[0] == {"verb": "ListRecords", "metadataPrefix": prefix, "set": "cs",
                         "from": "2026-06-01", "until": "2026-06-08"}
    assert all(set(p) == {"verb", "resumptionToken"} for p in params[1:])
    assert store.get_state("oai", token_key("cs", *WEEK, prefix, cats)) is None  # type: ignore[arg-type]
    assert watermark(store, "cs", cats) == WEEK[1]

    before = paper_rows(store)
    with client_for(oai) as client:
        again = harvest(store, client, "cs", *WEEK, prefix, cats)  # type: ignore[arg-type]
    assert (again["inserted"], again["updated"], again["unchanged"]) == (0, 0, len(kept))
    assert paper_rows(store) == before


def test_requests_keep_the_politeness_delay(oai: Any, store: Store) -> None:
    oai.page_size = 500  # 2026-06-01..03: 1,323 records, 3 pages
    with client_for(oai, delay=0.3) as client:
        harvest(store, client, "cs", date(2026, 6, 1), date(2026, 6, 3))
    times = [t for t, _ in oai.requests]
    assert len(times) == 3
    assert all(b - a >= 0.3 * 0.95 for a, b in zip(times, times[1:], strict=False))


def test_faults_are_retried_honouring_retry_after_and_counted_in_runs(oai: Any, store: Store) -> None:
    window = (date(2026, 6, 1), date(2026, 6, 3))
    oai.inject([("status", 503, {"Retry-After": "1"}), ("reset",), ("truncate", 0.5)])
    with client_for(oai) as client, store.run("ingest-oai", {}, source="oai", window=window) as counts:
        harvest(store, client, "cs", *window, counts=counts)
    times = [t for t, _ in oai.requests]
    assert len(times) == 5  # 3 faults, then the 2 pages
    assert times[1] - times[0] >= 0.95  # Retry-After: 1 was honoured
    assert counts["requests"] == 5 and counts["retries"] == 3 and counts["pages"] == 2
    assert oai.request_params()[0] == oai.request_params()[3]  # the same request, repeated
    status, requests, retries, new = store.query(
        "SELECT status, requests, retries, papers_new FROM runs ORDER BY run_id DESC LIMIT 1")[1][0]
    assert (status, requests, retries, new) == ("ok", 5, 3, len(expected(*window)))
    assert store.count_papers() == len(expected(*window))


def test_a_truncated_body_that_never_heals_is_an_ingest_error(oai: Any, store: Store) -> None:
    oai.inject([("truncate", 0.7)] * 5)
    with client_for(oai) as client, pytest.raises(IngestError, match="incomplete body"):
        harvest(store, client, "cs", date(2026, 6, 1), date(2026, 6, 1))
    assert len(oai.requests) == 5 and store.count_papers() == 0


class Crash(Exception):
    """Stands in for the process dying between two pages."""


@pytest.mark.parametrize("how", ["server-400", "crash"])
def test_an_interrupted_harvest_resumes_from_the_stored_token(oai: Any, tmp_path: Path, how: str) -> None:
    window, cats = (date(2026, 6, 1), date(2026, 6, 3)), ("cs.CL", "cs.LG")
    oai.page_size = 300  # 1,323 records: 5 pages

    def die_after_two(page: OAIPage, counts: dict[str, Any]) -> None:
        if counts["pages"] == 2:
            if how == "crash":
                raise Crash
            oai.inject([("status", 400, {})])

    with Store.open(tmp_path / "a.duckdb") as db, client_for(oai) as client:
        with pytest.raises(SourceHTTPError if how == "server-400" else Crash):
            harvest(db, client, "cs", *window, categories=cats, on_page=die_after_two)
        state = json.loads(db.get_state("oai", token_key("cs", *window, "arXivRaw", cats)) or "{}")
        assert state["token"] == oai.issued[1]  # the token after page 2, saved after storing it
        stored = db.count_papers()
        assert 0 < stored < len(expected(*window, set(cats)))
        seen = len(oai.requests)
        counts = harvest(db, client, "cs", *window, categories=cats)
        assert counts["resumed"] == 1 and counts["pages"] == 3
        assert oai.request_params()[seen] == {"verb": "ListRecords", "resumptionToken": oai.issued[1]}
        resumed = paper_rows(db)
    with Store.open(tmp_path / "b.duckdb") as db, client_for(oai) as client:
        harvest(db, client, "cs", *window, categories=cats)
        assert paper_rows(db) == resumed
        assert {r[0] for r in resumed} == set(expected(*window, set(cats)))


def test_bad_resumption_tokens_restart_the_window(oai: Any, store: Store) -> None:
    window, logs = (date(2026, 6, 1), date(2026, 6, 3)), []
    oai.page_size = 500
    want = set(expected(*window))
    # A token stored by a crashed run that has expired since.
    store.set_state("oai", token_key("cs", *window, "arXivRaw", None), json.dumps({"token": "1|500"}))
    with client_for(oai) as client:
        counts = harvest(store, client, "cs", *window, log=logs.append)
    assert counts["restarts"] == 1 and counts["pages"] == 3
    assert "restarting cs 2026-06-01..2026-06-03 from the beginning" in logs[-1]
    first, second = oai.request_params()[:2]
    assert first == {"verb": "ListRecords", "resumptionToken": "1|500"} and second["from"] == "2026-06-01"
    assert {r[0] for r in store.query("SELECT arxiv_id FROM papers")[1]} == want

    # Tokens that expire in the middle of a list.
    oai.reset()
    oai.page_size = 500
    forgot = []

    def expire_once(page: OAIPage, counts: dict[str, Any]) -> None:
        if not forgot:
            forgot.append(page)
            oai.forget_tokens()

    with client_for(oai) as client:
        counts = harvest(store, client, "cs", *window, on_page=expire_once)
    assert counts["restarts"] == 1 and counts["pages"] == 4 and counts["unchanged"] == 1823

    # Tokens that always expire: give up with a clear error, not a loop.
    with client_for(oai) as client, pytest.raises(IngestError, match="kept expiring"):
        harvest(store, client, "cs", *window, on_page=lambda page, counts: oai.forget_tokens())


def test_watermark_from_response_date_and_never_backwards(oai: Any, store: Store) -> None:
    oai.response_date = datetime(2026, 6, 5, 12, 0)
    with client_for(oai) as client:
        harvest(store, client, "cs", date(2026, 6, 4), None, categories=("cs.CL",))
        assert watermark(store, "cs", ("cs.CL",)) == date(2026, 6, 5)
        harvest(store, client, "cs", date(2026, 6, 5), date(2026, 6, 30), categories=("cs.CL",))
        assert watermark(store, "cs", ("cs.CL",)) == date(2026, 6, 5)  # not past the server's today
        harvest(store, client, "cs", date(2026, 6, 1), date(2026, 6, 2), categories=("cs.CL",))
        assert watermark(store, "cs", ("cs.CL",)) == date(2026, 6, 5)  # a backfill keeps it
        assert watermark(store, "cs", None) is None  # per category filter
        counts = harvest(store, client, "cs", date(2024, 1, 1), date(2024, 1, 2))  # noRecordsMatch
    assert counts["pages"] == 1 and counts["records"] == 0


def test_get_record_and_server_errors_over_http(oai: Any) -> None:
    with client_for(oai) as client:
        recorded = client.get_record("1401.2122", "arXiv")
        assert recorded is not None and recorded.journal_ref.startswith("Lett. Math. Phys. 108")  # type: ignore[union-attr]
        synthetic = client.get_record("2605.30355v1")
        assert synthetic is not None and synthetic.version == 1
        assert synthetic.authors == ("Kenneth M. Zick", "Nikhil Shukla", "Alexander Marakov")
        with pytest.raises(OAIArgumentError, match="idDoesNotExist"):
            client.get_record("hep-th/9901001")
        with pytest.raises(OAIArgumentError, match="badArgument.*Invalid set"):
            next(client.list_records("nosuch", date(2026, 6, 1), date(2026, 6, 2)))
        with pytest.raises(UserInputError, match="is after"):
            next(client.list_records("cs", date(2026, 6, 2), date(2026, 6, 1)))
    assert oai.request_params()[1]["identifier"] == "oai:arXiv.org:2605.30355"
    with OAIClient("http://127.0.0.1:9/oai", delay=0, timeout=2,
                   retry=RetryPolicy(attempts=2, base_delay=0.01)) as dead:
        with pytest.raises(IngestError, match="cannot reach"):
            next(dead.list_records("cs", None, None))
