"""Owns OAIFixtureServer: a local HTTP server that plays arXiv's OAI-PMH endpoint (``/oai``).

Answers, in this order:
1. Recorded responses in ``arxiv-oai/`` (and ``arxiv-oai/getrecord/``), served verbatim when
   the request's arguments equal those in the file's ``<request>`` element: ListRecords
   ``set=physics:hep-ex|physics:hep-th from=2017-12-14 metadataPrefix=arXiv`` and GetRecord
   ``identifier=oai:arXiv.org:<id> metadataPrefix=arXiv`` for the 12 recorded ids.
2. Synthetic ListRecords / GetRecord built from ``daily-arxiv/*.jsonl.gz`` (72k real cs
   records) in the ``arXivRaw`` and ``arXiv`` formats, shaped like the recorded responses
   and arXiv's own templates (github.com/arXiv/oaipmh ``record_formats.xml``). Datestamp =
   the record's ``update_date``; ``from``/``until`` filter on it; records are listed by
   (datestamp, id), ``page_size`` (default 1000) per response, with opaque resumption tokens
   carrying ``cursor`` and ``completeListSize`` and an empty token on the last page (a list
   that fits one page has no token, as the protocol says). Each record belongs to the sets
   of all its categories (cs.CL -> cs, math.OC -> math, hep-th -> physics:hep-th). Derived,
   not in the source: ``<submitter>`` (the first author), ``<size>`` (from the abstract).
   Ids in ``deleted`` are served as ``<header status="deleted">`` records. GetRecord looks
   an id YYMM.NNNNN up in the files of month YYMM and the next first (where most are listed).
3. OAI errors inside a 200 response, as arXiv sends them: ``noRecordsMatch`` (empty list),
   ``badResumptionToken`` (unknown token, or every token after ``forget_tokens()``),
   ``badArgument`` (missing, repeated, unknown or malformed arguments; unknown set; from >
   until), ``cannotDisseminateFormat``, ``idDoesNotExist``, ``badVerb``.

``inject()`` queues faults applied to the next requests: ("status", code, headers),
("truncate", fraction), ("reset",) and ("pass",) (answered normally: delays the next
fault). ``requests`` holds (monotonic time, path) of every request; ``issued`` every
resumption token handed out. The server, fault and request-log machinery is
`tests.support.loopback.LoopbackServer`'s.

Manual use: ``python -m tests.support.oai_server --fixtures ../shared/fixtures --port 8766``.
"""

from __future__ import annotations

import re
import textwrap
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit
from xml.sax.saxutils import escape

from tests.support.arxiv_server import RecordStore
from tests.support.loopback import Fault, LoopbackServer, runner_parser

XML_TYPE = "text/xml; charset=utf-8"
PAGE_SIZE = 1000
ID_PREFIX = "oai:arXiv.org:"
FORMATS = ("arXiv", "arXivRaw")
KNOWN_FORMATS = (*FORMATS, "oai_dc", "arXivOld")  # listed by arXiv; only FORMATS are played here
VERBS = ("Identify", "ListMetadataFormats", "ListSets", "ListIdentifiers", "ListRecords", "GetRecord")
ARCHIVE_SETS = ("cs", "econ", "eess", "math", "q-bio", "q-fin", "stat")
PHYSICS = ("astro-ph", "cond-mat", "gr-qc", "hep-ex", "hep-lat", "hep-ph", "hep-th", "math-ph",
           "nlin", "nucl-ex", "nucl-th", "physics", "quant-ph")
SETS = frozenset((*ARCHIVE_SETS, "physics", *(f"physics:{a}" for a in PHYSICS)))
HEAD = ('<?xml version="1.0" encoding="UTF-8"?>\n<OAI-PMH xmlns="http://www.openarchives.org/OAI/2.0/"'
        ' xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:schemaLocation='
        '"http://www.openarchives.org/OAI/2.0/ http://www.openarchives.org/OAI/2.0/OAI-PMH.xsd">\n')
META_OPEN = {
    "arXiv": '<arXiv xmlns="http://arxiv.org/OAI/arXiv/" xmlns:xsi="http://www.w3.org/2001/'
             'XMLSchema-instance" xsi:schemaLocation="http://arxiv.org/OAI/arXiv/ '
             'http://arxiv.org/OAI/arXiv.xsd">',
    "arXivRaw": '<arXivRaw xmlns="http://arxiv.org/OAI/arXivRaw/" xmlns:xsi="http://www.w3.org/2001/'
                'XMLSchema-instance" xsi:schemaLocation="http://arxiv.org/OAI/arXivRaw/ '
                'http://arxiv.org/OAI/arXivRaw.xsd">',
}
CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")
REQUEST_ATTRS = re.compile(rb"<request\s([^>]*)>")
ATTR = re.compile(r'([\w:]+)="([^"]*)"')


class OAIFail(Exception):
    """A request arXiv would answer with an OAI <error>."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code, self.message = code, message


def _text(value: str) -> str:
    return escape(CONTROL.sub("", value))


def _wrap(value: str, indent: str = "") -> str:
    # arXiv hard-wraps long text fields at about 80 columns; parsers must undo it.
    return "\n".join(textwrap.wrap(" ".join(value.split()), 78, subsequent_indent=indent,
                                   break_long_words=False, break_on_hyphens=False))


def record_sets(categories: list[str]) -> list[str]:
    """The OAI sets of a record: one per archive of its categories (physics archives nested)."""
    found = []
    for cat in categories:
        archive = cat.partition(".")[0]
        found.append(archive if archive in ARCHIVE_SETS else f"physics:{archive}")
    return list(dict.fromkeys(found))


def in_set(rec: dict[str, Any], set_spec: str | None) -> bool:
    if not set_spec:
        return True
    return any(s == set_spec or s.startswith(set_spec + ":") for s in rec["_sets"])


def render_header(rec: dict[str, Any], deleted: bool = False) -> str:
    status = ' status="deleted"' if deleted else ""
    sets = "".join(f" <setSpec>{s}</setSpec>\n" for s in rec["_sets"])
    return (f"<header{status}>\n <identifier>{ID_PREFIX}{rec['id']}</identifier>\n"
            f" <datestamp>{rec['update_date']}</datestamp>\n{sets}</header>\n")


def _optional(rec: dict[str, Any]) -> str:
    out = []
    for tag, key in (("comments", "comments"), ("report-no", "report-no"),
                     ("journal-ref", "journal-ref"), ("doi", "doi"), ("license", "license")):
        if rec.get(key):
            out.append(f"<{tag}>{_text(_wrap(rec[key], '  '))}</{tag}>")
    return "".join(out)


def render_arxiv(rec: dict[str, Any]) -> str:
    """The ``arXiv`` metadata of a record, shaped like the recorded hepcrawl responses."""
    created = datetime.strptime(rec["versions"][0]["created"], "%a, %d %b %Y %H:%M:%S %Z")
    out = [META_OPEN["arXiv"], f"\n <id>{rec['id']}</id><created>{created:%Y-%m-%d}</created>"]
    if len(rec["versions"]) > 1:
        last = datetime.strptime(rec["versions"][-1]["created"], "%a, %d %b %Y %H:%M:%S %Z")
        out.append(f"<updated>{last:%Y-%m-%d}</updated>")
    out.append("<authors>")
    for keyname, forenames, *rest in rec["authors_parsed"]:
        out.append(f"<author><keyname>{_text(keyname)}</keyname>")
        if forenames:
            out.append(f"<forenames>{_text(forenames)}</forenames>")
        if rest and rest[0]:
            out.append(f"<suffix>{_text(rest[0])}</suffix>")
        out.append("</author>")
    out.append(f"</authors><title>{_text(_wrap(rec['title'], '  '))}</title>"
               f"<categories>{_text(rec['categories'])}</categories>{_optional(rec)}"
               f"<abstract>  {_text(_wrap(rec['abstract']))}\n</abstract></arXiv>\n")
    return "".join(out)


def render_arxiv_raw(rec: dict[str, Any]) -> str:
    """The ``arXivRaw`` metadata of a record: version history with dates, authors as one string."""
    names = re.split(r",\s+|\s+and\s+", rec["authors"])
    submitter = rec.get("submitter") or names[0]
    size = max(1, len(rec["abstract"]) // 40)
    out = [META_OPEN["arXivRaw"], f"\n <id>{rec['id']}</id><submitter>{_text(submitter)}</submitter>"]
    for v in rec["versions"]:
        out.append(f'<version version="{v["version"]}"><date>{v["created"]}</date>'
                   f"<size>{size}kb</size></version>")
    out.append(f"<title>{_text(_wrap(rec['title'], '  '))}</title>"
               f"<authors>{_text(_wrap(rec['authors'], '  '))}</authors>"
               f"<categories>{_text(rec['categories'])}</categories>{_optional(rec)}"
               f"<abstract>  {_text(_wrap(rec['abstract']))}\n</abstract></arXivRaw>\n")
    return "".join(out)


def render_record(rec: dict[str, Any], prefix: str, deleted: bool = False) -> str:
    if deleted:
        return f"<record>\n{render_header(rec, True)}</record>\n"
    meta = render_arxiv(rec) if prefix == "arXiv" else render_arxiv_raw(rec)
    return f"<record>\n{render_header(rec)}<metadata>\n {meta}</metadata>\n</record>\n"


class OAIFixtureServer(LoopbackServer):
    """Context manager serving ``/oai`` on 127.0.0.1 from a fixtures folder."""

    content_type = XML_TYPE
    fault_kinds = ("status", "truncate", "reset", "pass")
    thread_name = "oai-fixture-server"

    def __init__(self, fixtures_dir: Path, port: int = 0, page_size: int = PAGE_SIZE) -> None:
        super().__init__(port)
        self.oai_dir = Path(fixtures_dir) / "arxiv-oai"
        self.store = RecordStore(Path(fixtures_dir) / "daily-arxiv")
        self.recordings = self._load_recordings()
        self.page_size = page_size
        self.deleted: set[str] = set()
        self.response_date: datetime | None = None  # None: the real time
        self.issued: list[str] = []
        self._lists: dict[int, tuple[dict[str, str], list[dict[str, Any]]]] = {}
        self._next_list = 6960524  # tokens look like arXiv's classic ones: "6960524|1001"

    @property
    def oai_url(self) -> str:
        return self.base_url + "/oai"

    def forget_tokens(self) -> None:
        """Expire every resumption token handed out so far (they answer badResumptionToken)."""
        with self._lock:
            self._lists.clear()

    def reset(self) -> None:
        """Back to the defaults between tests: no faults, requests, deletions or fixed date."""
        super().reset()
        with self._lock:
            self.issued.clear()
            self.deleted = set()
            self.page_size = PAGE_SIZE
            self.response_date = None

    def request_params(self) -> list[dict[str, str]]:
        """The query arguments of every request so far, in order."""
        return [{k: v[-1] for k, v in parse_qs(urlsplit(p).query).items()} for _, p in self.requests]

    def _load_recordings(self) -> list[tuple[dict[str, str], Path]]:
        found = []
        for path in sorted(self.oai_dir.rglob("*.xml")):
            match = REQUEST_ATTRS.search(path.read_bytes()[:2000])
            if match:
                found.append((dict(ATTR.findall(match[1].decode())), path))
        return found

    # -- answering

    def answer(self, target: str, fault: Fault | None) -> tuple[int, bytes]:
        return self.respond(target)

    def respond(self, target: str) -> tuple[int, bytes]:
        """(status, body) for a request target such as ``/oai?verb=ListRecords&...``."""
        parts = urlsplit(target)
        if parts.path.rstrip("/") != "/oai":
            return 404, b"not found\n"
        raw = parse_qs(parts.query, keep_blank_values=True)
        params = {k: v[-1] for k, v in raw.items()}
        try:
            if any(len(v) > 1 for v in raw.values()):
                raise OAIFail("badArgument", "repeated argument")
            verb = params.get("verb", "")
            if verb not in VERBS:
                raise OAIFail("badVerb", f"Illegal verb {verb!r}" if verb else "verb is missing")
            for attrs, path in self.recordings:
                if attrs == params:
                    return 200, path.read_bytes()
            if verb == "ListRecords":
                return 200, self.list_records(params)
            if verb == "GetRecord":
                return 200, self.get_record(params)
            if verb == "Identify":
                return 200, self._envelope(params, self._identify())
            raise OAIFail("badVerb", f"{verb} is not played by this fixture server")
        except OAIFail as fail:
            # Per the protocol, badVerb/badArgument answers echo no arguments.
            echo = {} if fail.code in ("badVerb", "badArgument") else params
            body = f'<error code="{fail.code}">{_text(fail.message)}</error>\n'
            return 200, self._envelope(echo, body)

    def _envelope(self, params: dict[str, str], inner: str) -> bytes:
        now = self.response_date or datetime.now(UTC)
        attrs = "".join(f' {k}="{_text(v)}"' for k, v in params.items())
        return (f"{HEAD}<responseDate>{now:%Y-%m-%dT%H:%M:%SZ}</responseDate>\n"
                f"<request{attrs}>http://export.arxiv.org/oai2</request>\n{inner}</OAI-PMH>\n"
                ).encode()

    def _identify(self) -> str:
        return ("<Identify>\n<repositoryName>arXiv (fixture)</repositoryName>\n"
                f"<baseURL>{self.oai_url}</baseURL>\n<protocolVersion>2.0</protocolVersion>\n"
                "<adminEmail>help@arxiv.org</adminEmail>\n<earliestDatestamp>2005-09-16"
                "</earliestDatestamp>\n<deletedRecord>persistent</deletedRecord>\n"
                "<granularity>YYYY-MM-DD</granularity>\n</Identify>\n")

    def list_records(self, p: dict[str, str]) -> bytes:
        allowed = {"verb", "resumptionToken"} if "resumptionToken" in p else \
            {"verb", "metadataPrefix", "set", "from", "until"}
        if set(p) - allowed:
            raise OAIFail("badArgument", f"illegal arguments: {', '.join(sorted(set(p) - allowed))}")
        if "resumptionToken" in p:
            token = p["resumptionToken"]
            list_id, _, cursor_text = token.partition("|")
            with self._lock:
                found = self._lists.get(int(list_id)) if list_id.isdigit() else None
            if found is None or not cursor_text.isdigit() or int(cursor_text) > len(found[1]):
                raise OAIFail("badResumptionToken", f"Invalid or expired resumption token {token}")
            (query, recs), cursor, key = found, int(cursor_text), int(list_id)
        else:
            query, recs = p, self._select(p)
            if not recs:
                raise OAIFail("noRecordsMatch", "The combination of the values of the from, until, "
                              "set and metadataPrefix arguments results in an empty list.")
            with self._lock:
                key, self._next_list = self._next_list, self._next_list + 1
                self._lists[key] = (query, recs)
            cursor = 0
        page = recs[cursor:cursor + self.page_size]
        prefix = query["metadataPrefix"]
        body = [render_record(r, prefix, r["id"] in self.deleted) for r in page]
        end = cursor + len(page)
        if end < len(recs):
            token = f"{key}|{end}"
            with self._lock:
                self.issued.append(token)
            body.append(f'<resumptionToken cursor="{cursor}" completeListSize="{len(recs)}">'
                        f"{token}</resumptionToken>\n")
        elif cursor > 0:
            body.append(f'<resumptionToken cursor="{cursor}" completeListSize="{len(recs)}"/>\n')
        return self._envelope(p, "<ListRecords>\n" + "".join(body) + "</ListRecords>\n")

    def _select(self, p: dict[str, str]) -> list[dict[str, Any]]:
        prefix = p.get("metadataPrefix")
        if not prefix:
            raise OAIFail("badArgument", "metadataPrefix is required")
        if prefix not in FORMATS:
            known = " (not played by this fixture server)" if prefix in KNOWN_FORMATS else ""
            raise OAIFail("cannotDisseminateFormat", f"Unknown metadata format {prefix}{known}")
        first, last = _date_arg(p, "from"), _date_arg(p, "until")
        if first and last and first > last:
            raise OAIFail("badArgument", "from is after until")
        set_spec = p.get("set")
        if set_spec is not None and set_spec not in SETS:
            raise OAIFail("badArgument", f"Invalid set {set_spec!r}")
        lo, hi = first or date.min, last or date.max
        months = [k for k in self.store.files if (lo.year, lo.month) <= k <= (hi.year, hi.month)]
        lo_s, hi_s = lo.isoformat(), hi.isoformat()
        recs = [r for k in months for r in self._month(k)
                if lo_s <= r["update_date"] <= hi_s and in_set(r, set_spec)]
        return sorted(recs, key=lambda r: (r["update_date"], r["id"]))

    def _month(self, key: tuple[int, int]) -> list[dict[str, Any]]:
        # daily-arxiv files are by listing month and update_date is the listing day, so the
        # months of a window hold all of its records.
        recs = self.store.month(key)
        if recs and "_sets" not in recs[-1]:
            for r in recs:
                r["_sets"] = record_sets(r["categories"].split())
        return recs

    def get_record(self, p: dict[str, str]) -> bytes:
        allowed = {"verb", "identifier", "metadataPrefix"}
        if set(p) - allowed or not p.get("identifier") or not p.get("metadataPrefix"):
            raise OAIFail("badArgument", "GetRecord takes identifier and metadataPrefix")
        prefix, ident = p["metadataPrefix"], p["identifier"]
        if prefix not in FORMATS:
            raise OAIFail("cannotDisseminateFormat", f"Unknown metadata format {prefix}")
        if not ident.startswith(ID_PREFIX):
            raise OAIFail("badArgument", f"Invalid identifier {ident}")
        rec = self._find(ident[len(ID_PREFIX):])
        if rec is None:
            raise OAIFail("idDoesNotExist", f"{ident} is unknown or illegal in this repository")
        inner = render_record(rec, prefix, rec["id"] in self.deleted)
        return self._envelope(p, f"<GetRecord>\n{inner}</GetRecord>\n")

    def _find(self, arxiv_id: str) -> dict[str, Any] | None:
        # A new-style id YYMM.NNNNN is mostly listed in its own month or the next: read those first.
        if not re.fullmatch(r"\d{4}\.\d{4,5}", arxiv_id):
            return None
        year, month = 2000 + int(arxiv_id[:2]), int(arxiv_id[2:4])
        for key in ((year, month), (year + month // 12, month % 12 + 1)):
            if key in self.store.files:
                for rec in self._month(key):
                    if rec["id"] == arxiv_id:
                        return rec
        rec = self.store.by_id().get(arxiv_id)  # a few are listed much later (all files: slow)
        if rec is not None:
            rec.setdefault("_sets", record_sets(rec["categories"].split()))
        return rec


def _date_arg(p: dict[str, str], name: str) -> date | None:
    value = p.get(name)
    if value is None:
        return None
    try:
        if len(value) != 10:
            raise ValueError(value)
        return date.fromisoformat(value)
    except ValueError:
        raise OAIFail("badArgument", f"Invalid {name} date {value!r} (YYYY-MM-DD)") from None


def main() -> None:
    parser = runner_parser(__doc__, port=8766)
    parser.add_argument("--page-size", type=int, default=PAGE_SIZE)
    args = parser.parse_args()
    server = OAIFixtureServer(args.fixtures, port=args.port, page_size=args.page_size)
    server.run_forever(lambda: server.oai_url)


if __name__ == "__main__":
    main()
