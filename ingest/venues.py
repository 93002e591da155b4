"""Venues from text: which conference, workshop or journal accepted a paper, from its arXiv comment,
journal-ref or a Papers with Code conference name.

`extract_venues` reads "Accepted at ICLR 2026", "CVPR'25 Workshop", "Findings of EMNLP 2025",
"To appear in IEEE TPAMI" into VenueMentions (venue, year, kind, raw fragment); `best_venue` picks
the one to show ("ICLR 2026", "ICLR 2026 Workshop", "Findings of ACL 2026", "IEEE TPAMI");
`normalize_conference` maps PwC's "NeurIPS 2025" / "neurips-2025" to the same names.

Decisions (checked by the hand-labelled comments in tests/ingest/data/venue_labels.jsonl):
- Only acceptances become mentions. "Submitted to", "under review", "in submission", "rejected",
  "targeting", challenge reports and "extended version of our X paper" give nothing, so a
  mention is never a submission in disguise.
- A bare "CVPR 2025" counts (the arXiv habit for an accepted paper) unless the venue had not
  decided yet when the paper was listed: a bare "NeurIPS 2026" on a paper of May 2026 is a
  submission. The listing month comes from `as_of` or, failing that, the new-style arXiv id.
- Kinds: main, workshop, findings, journal, demo. Workshops and Findings carry the venue they
  belong to ("X Workshop @ ICML 2026" → ICML, workshop).
- Venues outside the alias table are kept by the acronym the text gives ("ICAIL 2026"), or by
  their name as written ("Information Fusion"); years only when written (two digits → 20xx).
"""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import NamedTuple

from core.records import VenueMention

__all__ = ["Venue", "best_venue", "extract_venues", "normalize_conference"]

KINDS = ("main", "workshop", "findings", "journal", "demo")

# canonical name, default kind, decision (years before the venue's year, month) or None, aliases.
# Aliases are token sequences matched case-insensitively, except those written "=ACL" (exact case:
# short acronyms that are also words). The decision month is when acceptances for year Y are
# known, to tell a bare "NeurIPS 2026" on a May-2026 paper (a submission) from an accepted one.
_TABLE: tuple[tuple[str, str, tuple[int, int] | None, str], ...] = (
    ("NeurIPS", "main", (0, 9), "NeurIPS|NIPS|Neural Information Processing Systems"),
    ("ICML", "main", (0, 5), "ICML|International Conference on Machine Learning"),
    ("ICLR", "main", (0, 1), "ICLR|International Conference on Learning Representations"),
    (
        "CVPR",
        "main",
        (0, 2),
        "CVPR|Computer Vision and Pattern Recognition|Conference on Computer Vision and Pattern Recognition",
    ),
    ("ICCV", "main", (0, 6), "ICCV|International Conference on Computer Vision"),
    ("ECCV", "main", (0, 7), "ECCV|European Conference on Computer Vision"),
    (
        "ACL",
        "main",
        (0, 4),
        "=ACL|Annual Meeting of the Association for Computational Linguistics|"
        "Association for Computational Linguistics",
    ),
    ("EMNLP", "main", (0, 8), "EMNLP|Empirical Methods in Natural Language Processing"),
    (
        "NAACL",
        "main",
        (0, 1),
        "NAACL|North American Chapter of the Association for Computational Linguistics",
    ),
    ("EACL", "main", (0, 1), "EACL|European Chapter of the Association for Computational Linguistics"),
    ("AACL", "main", (0, 8), "AACL|IJCNLP-AACL|AACL-IJCNLP"),
    ("COLING", "main", (-1, 11), "COLING|International Conference on Computational Linguistics"),
    ("COLM", "main", (0, 7), "COLM|Conference on Language Modeling"),
    ("LREC", "main", (0, 2), "LREC|LREC-COLING|Language Resources and Evaluation Conference"),
    ("AAAI", "main", (-1, 11), "AAAI"),
    ("IJCAI", "main", (0, 4), "IJCAI|IJCAI-ECAI|International Joint Conference on Artificial Intelligence"),
    ("ECAI", "main", (0, 7), "ECAI|European Conference on Artificial Intelligence"),
    ("AAMAS", "main", (-1, 12), "AAMAS"),
    ("KDD", "main", (-1, 11), "=KDD|SIGKDD|Knowledge Discovery and Data Mining"),
    ("WWW", "main", (0, 1), "=WWW|TheWebConf|WebConf|The Web Conference|ACM Web Conference"),
    ("SIGIR", "main", (0, 4), "SIGIR"),
    ("CIKM", "main", (0, 8), "CIKM"),
    ("WSDM", "main", (-1, 10), "WSDM"),
    ("RecSys", "main", (0, 7), "RecSys"),
    ("ICDM", "main", (0, 8), "ICDM"),
    ("ICDE", "main", (-1, 10), "ICDE"),
    ("MICCAI", "main", (0, 5), "MICCAI|Medical Image Computing and Computer Assisted Intervention"),
    ("ISBI", "main", (0, 1), "ISBI|International Symposium on Biomedical Imaging"),
    ("MIDL", "main", (0, 2), "MIDL|Medical Imaging with Deep Learning"),
    ("IPMI", "main", (0, 3), "IPMI"),
    ("Interspeech", "main", (0, 5), "Interspeech"),
    ("ICASSP", "main", (-1, 12), "ICASSP|International Conference on Acoustics Speech and Signal Processing"),
    ("EUSIPCO", "main", (0, 5), "EUSIPCO|European Signal Processing Conference"),
    ("SIGGRAPH Asia", "main", (0, 8), "SIGGRAPH Asia|SIGGRAPH-Asia|SIGGRAPHAsia"),
    ("SIGGRAPH", "main", (0, 3), "SIGGRAPH"),
    ("Eurographics", "main", (-1, 12), "Eurographics"),
    ("IROS", "main", (0, 6), "IROS|Intelligent Robots and Systems"),
    ("ICRA", "main", (0, 1), "ICRA|International Conference on Robotics and Automation"),
    ("CoRL", "main", (0, 8), "CoRL|Conference on Robot Learning"),
    ("RSS", "main", (0, 4), "=RSS|Robotics Science and Systems"),
    ("WACV", "main", (-1, 9), "WACV|Winter Conference on Applications of Computer Vision"),
    ("BMVC", "main", (0, 7), "BMVC|British Machine Vision Conference"),
    ("ACCV", "main", (0, 8), "ACCV|Asian Conference on Computer Vision"),
    ("3DV", "main", (-1, 11), "3DV|International Conference on 3D Vision"),
    ("ICPR", "main", (0, 4), "ICPR|International Conference on Pattern Recognition"),
    ("ICDAR", "main", (0, 4), "ICDAR|International Conference on Document Analysis and Recognition"),
    ("ICME", "main", (0, 3), "ICME|International Conference on Multimedia and Expo"),
    ("ICIP", "main", (0, 4), "ICIP|International Conference on Image Processing"),
    (
        "ACM MM",
        "main",
        (0, 7),
        "ACM MM|ACMMM|=ACMM|ACM Multimedia|ACM International Conference on Multimedia",
    ),
    ("IJCNN", "main", (0, 3), "IJCNN|International Joint Conference on Neural Networks"),
    ("AISTATS", "main", (0, 1), "AISTATS|Artificial Intelligence and Statistics"),
    ("UAI", "main", (0, 5), "=UAI|Uncertainty in Artificial Intelligence"),
    ("COLT", "main", (0, 5), "=COLT|Conference on Learning Theory"),
    ("MLSys", "main", (0, 2), "MLSys"),
    ("CHI", "main", (0, 1), "=CHI|Conference on Human Factors in Computing Systems"),
    ("UIST", "main", (0, 7), "UIST|Symposium on User Interface Software and Technology"),
    ("CSCW", "main", None, "CSCW"),
    ("FAccT", "main", (0, 3), "FAccT|Conference on Fairness Accountability and Transparency"),
    ("IEEE VR", "main", (-1, 12), "IEEE VR"),
    ("ISMAR", "main", (0, 7), "ISMAR"),
    ("IJCB", "main", (0, 7), "IJCB"),
    ("CLEF", "main", (0, 6), "CLEF"),
    ("ICSE", "main", (-1, 12), "ICSE"),
    ("NDSS", "main", (-1, 12), "NDSS"),
    ("CCS", "main", (0, 4), "=CCS"),
    ("USENIX Security", "main", (-1, 11), "USENIX Security"),
    ("SemEval", "workshop", (0, 3), "SemEval"),
    ("WMT", "workshop", (0, 8), "=WMT"),
    ("TMLR", "journal", None, "TMLR|Transactions on Machine Learning Research"),
    ("JMLR", "journal", None, "JMLR|Journal of Machine Learning Research"),
    ("TACL", "journal", None, "TACL|Transactions of the Association for Computational Linguistics"),
    ("IJCV", "journal", None, "IJCV|International Journal of Computer Vision"),
    ("CVIU", "journal", None, "CVIU|Computer Vision and Image Understanding"),
    ("MedIA", "journal", None, "=MedIA|Medical Image Analysis"),
    (
        "IEEE TPAMI",
        "journal",
        None,
        "TPAMI|T-PAMI|PAMI|Transactions on Pattern Analysis and Machine Intelligence",
    ),
    ("IEEE TIP", "journal", None, "=TIP|Transactions on Image Processing"),
    ("IEEE TMM", "journal", None, "TMM|Transactions on Multimedia"),
    ("IEEE TCSVT", "journal", None, "TCSVT|Transactions on Circuits and Systems for Video Technology"),
    ("IEEE TNNLS", "journal", None, "TNNLS|Transactions on Neural Networks and Learning Systems"),
    ("IEEE TMI", "journal", None, "=TMI|Transactions on Medical Imaging"),
    ("IEEE TVCG", "journal", None, "TVCG|Transactions on Visualization and Computer Graphics"),
    ("IEEE TKDE", "journal", None, "TKDE|Transactions on Knowledge and Data Engineering"),
    ("IEEE TIFS", "journal", None, "TIFS|Transactions on Information Forensics and Security"),
    ("IEEE TGRS", "journal", None, "TGRS|Transactions on Geoscience and Remote Sensing"),
    ("IEEE T-ITS", "journal", None, "T-ITS|Transactions on Intelligent Transportation Systems"),
    ("IEEE T-RO", "journal", None, "T-RO|Transactions on Robotics"),
    ("IEEE RA-L", "journal", None, "RA-L|=RAL|Robotics and Automation Letters"),
    ("IEEE/ACM TASLP", "journal", None, "TASLP|Transactions on Audio Speech and Language Processing"),
    ("ACM TOG", "journal", None, "=TOG|ACM Transactions on Graphics|Transactions on Graphics"),
)
# Workshop editions written as one word ("CVPRW 2025").
_WORKSHOP_SUFFIX = {"CVPRW": "CVPR", "ICCVW": "ICCV", "ECCVW": "ECCV", "WACVW": "WACV", "ICMLW": "ICML"}
_DEFAULT_DECISION = (-1, 9)  # an unknown venue of year Y: no acceptances before September of Y-1

_TOKEN = re.compile(
    r"3DV|[A-Za-z][A-Za-z&+]*(?:\d+[A-Za-z][A-Za-z&+]*)*(?:-[A-Za-z][A-Za-z&+]*(?:\d+[A-Za-z]+)*)*"
)
_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")

# Triggers, searched in ASCII-lower-cased text. Strong acceptances end a preceding "submitted";
# weak ones ("publication", "proceedings") do not ("submitted for publication in X").
_STRONG = (
    r"\bac{1,3}[a-z]{0,4}?p[a-z]{0,4}?t(?:ed?)?\b|\bto appear\b|\bappear(?:s|ed|ing)? (?:in|at)\b"
    r"|(?<!un)\bpublished\b|\bpresented\b|\bcamera[- ]?ready\b|\bwill be (?:presented|published)\b"
    r"|\boral\b|\bspotlight\b|\bhighlights?\b|\bbest (?:student )?paper\b|\bpeer[- ]reviewed\b"
)
_WEAK = (
    r"\bpublication\b|\bproceedings\b|\bproc\.|\bpresentation\b|\bposters?\b|\bconference paper\b"
    r"|\bpaper (?:at|in)\b"
)
_NEGATIVE = (
    r"\bsubmi[a-z]*|\bsumbitted\b|\bunder (?:review|revision|consideration|submission)\b"
    r"|\bin[- ](?:review|submission)\b|\breview(?:ed)? (?:at|for|by|from)\b|\brejected\b"
    r"|\btargett?(?:ing|ed)?\b"
    r"|\bintended for\b|\bprepared for\b|\bdeveloped for\b|\bplanned for\b|\bwaiting\b|\bpending\b"
    r"|\bnot (?:yet )?(?:accepted|published|peer)|\btemplate\b|\bstyle files?\b|\b(?:19|20)\d\d preprint\b"
)
# "Extended version of our X paper", challenge reports: X is not where this text appears. Holds
# until the next comma, whatever verb follows ("An earlier version was published in X").
_OTHER_WORK = (
    r"\b(?:extended|expanded|extension|journal|longer)\b[\w\s,-]{0,30}?\b(?:version|work|paper)s?\s+of\b"
    r"|\bextended version\b|\bextension of\b|\bextends\b|\bversions\b"
    r"|\bour (?:prior|previous|earlier) (?:paper|work)\b"
    r"|\b(?:earlier|previous|preliminary|prior|shorter|short|"
    r"original|conference|workshop) version\b|\bbased on (?:our|the)\b|\bbuilds? (?:up)?on\b|\bcompanion\b"
    r"|\bchallenges?\b|\bcompetition\b|\bshared task\b|\bhackathon\b|\bplace\b|\bsolution (?:for|to)\b"
)
_TRIGGER = re.compile(
    rf"(?P<strong>{_STRONG})|(?P<neg>{_NEGATIVE})|(?P<other>{_OTHER_WORK})|(?P<weak>{_WEAK})"
)
_CLAUSE_END = re.compile(r",|\band\b|\(")
_AFTER_END = re.compile(r",|\band\b")
_SENTENCE_END = re.compile(r""";|\||\.(?=\s+[A-Z0-9(\[\\"'“])|\.$""")
_URL_TEXT = re.compile(r"\S*://[^\s)]*|\bwww\.[^\s)]+|[\w.-]+\.(?:com|org|io|net|edu|cc|info)/[^\s)]*")
_ABBREVIATIONS = (
    "proc",
    "conf",
    "int",
    "intl",
    "j",
    "vol",
    "no",
    "pp",
    "symp",
    "trans",
    "eds",
    "al",
    "e.g",
    "i.e",
    "vs",
)
# "X Workshop", "ML4RS @ ICLR 2026"; but "accepted @ ICLR" is the main conference.
_NOT_BEFORE_AT = "".join(
    rf"(?<!\b{word}{space}@)"
    for word in ("accepted", "paper", "published", "presented", "appear", "oral", "poster")
    for space in ("", " ")
)
_WORKSHOP = re.compile(rf"\bworkshops?\b|\bsrw\b|\btutorials?\b|(?<=[a-z0-9)])\s?@{_NOT_BEFORE_AT}")
_FINDINGS = re.compile(r"\bfindings\b")
_DEMO = re.compile(r"\bdemo(?:nstration)?s?\b")
_YEAR_AFTER = re.compile(
    r"\s*(?:[)\],]\s*){0,2}(?:(?:[\w-]+\s+){0,3}?(?:workshops?|conference|main|findings|track|congress|symposium)\s+)?"
    r"(?:(?-i:[A-Z]{2,3})\s+)?"
    r"(?:['’‘`]\s?|[-_@]\s?)?((?:19|20)\d\d|\d\d(?!\d))\b",
    re.IGNORECASE,
)
_SATELLITE = re.compile(r"\s*[-–:]\s*[A-Z][A-Za-z0-9&]*[A-Z][A-Za-z0-9&]*\s*['’-]?\s*((?:19|20)\d\d)\b")
_CHALLENGE_AFTER = re.compile(r"(?:(?!workshop)[^,.;]){0,40}?\bchallenges?\b")
_ACCEPTED_AFTER = re.compile(
    r"[\s'’\d-]*[(\[]\s*(?:\w+\s+)?(?:ac{1,3}[a-z]{0,4}?p[a-z]{0,4}?t|to appear|published)"
)
_TRAILING_VENUE = re.compile(
    r"(?:^|[\s(,;])(?:(?:IEEE|ACM)\s+)?(?P<name>[A-Z][A-Za-z0-9&]*[A-Z][A-Za-z0-9&-]*?)[\s'’-]*(?P<year>(?:19|20)\d\d)"
    r"[\s,;:(\[]*$"
)
_ACRONYM_YEAR = re.compile(
    r"\b(?P<name>[A-Z][A-Za-z0-9&]*[A-Z][A-Za-z0-9&-]*?)[\s'’-]*(?P<year>(?:19|20)\d\d)\b"
)
_PAREN_VENUE = re.compile(
    r"\(\s*(?P<name>[A-Z][A-Za-z0-9&]*[A-Z][A-Za-z0-9&-]*?)[\s'’-]*(?P<year>(?:19|20)\d\d)\s*\)"
)
_YEAR = re.compile(r"(?<![\d.])(?:19|20)\d\d(?!\d|\.\d)")
# A sentence that is nothing but an unknown venue and its year: "ISPRS Congress 2026, Toronto".
_BARE_ACRONYM = re.compile(
    r"^\s*(?:the\s+)?(?:(?:IEEE|ACM)\s+)?(?P<name>[A-Z][A-Za-z0-9&]*[A-Z][A-Za-z0-9&]*)"
    r"(?:\s+(?:Congress|Conference|Workshop|Symposium))?"
    r"[\s'’-]*(?P<year>(?:19|20)\d\d)\b"
)
_BARE_NAME = re.compile(
    r"^\s*(?:the\s+)?(?:(?:19|20)\d\d\s+)?(?P<name>(?:[A-Z][\w-]*\s+){0,3}(?:Conference|Symposium|Congress)"
    r"\s+on(?:\s+[A-Z][\w-]*|\s+(?:and|of|for|in)){1,8})\s*,?\s*(?P<year>(?:19|20)\d\d)?\b"
)
_LEAD_IN = re.compile(
    r"^\s*(?:for\s+(?:publication|publishing|presentation)\s+)?"
    r"(?:as\s+(?:an?\s+)?[\w -]*?(?:paper|presentation|poster)\s+)?"
    r"(?:awards?\s+)?(?:to\s+(?:be\s+)?publish(?:ed)?\s+)?(?:at|to|in|by|for|on|of|into|with)?\b\s*:?",
    re.IGNORECASE,
)
# Where a paper appears that is no venue: "The final version will appear in IEEE Xplore".
_NOT_VENUES = (
    "ieee xplore",
    "xplore",
    "arxiv",
    "springer",
    "lecture notes",
    "lncs",
    "ceur",
    "acm digital library",
    "openreview",
    "the ieee",
    "proceedings",
    "elsevier",
    "mit press",
    "manuscript",
    "version",
    "paper",
    "article",
    "author",
    "preprint",
    "camera",
    "final",
    "submitted",
    "this ",
    "our ",
    "prof",
)
_ACRONYM = re.compile(r"[a-z]?[A-Z][A-Za-z0-9&]*[A-Z][A-Za-z0-9&]*(?:-[A-Za-z0-9]+)?|[A-Z]{2,}")
_PUBLISHERS = frozenset(
    "IEEE ACM IEEE/CVF CVF IEEE/RSJ ISCA IAPR SIAM ACL IET IFIP USENIX AAAI EAI MDPI PLOS IOS SPIE".split()
)
_NOT_ACRONYMS = frozenset(
    "IEEE ACM CVF RSJ ISCA IAPR SIAM IET IFIP USENIX EAI LNCS LNAI CEUR PMLR AI ML NLP LLM LLMS DOI PDF "
    "URL USA UK EU II III IV DS CS VLM VLMS MLLM MLLMS LVLM LVLMS GPT AGI RAG".split()
)
_NAME_STOP = re.compile(
    r"\s*(?:[,.;:()\[\]]|\bheld\b|\bco-located\b|\bin conjunction\b|\bas (?:a|an|part)\b"
    r"|\bfor (?:future )?publication\b|"
    r"\bon \w+ \d|"
    r"(?<!\w)(?:19|20)\d\d\b|\bvol\b|\bpages?\b)"
)
_NAME_LEAD = re.compile(
    r"^(?:(?:the|a|an|proceedings of|proceedings|proc\.?|of)\s+|\d+(?:st|nd|rd|th)\s+)+", re.IGNORECASE
)
# What comes before a venue's name: "the", an article, its year and edition, "proceedings of".
_PHRASE_START = re.compile(
    r"^[\s\"'“”‘’(:*@-]*(?:(?:the|an?)\s+)?(?:(?:adjunct\s+)?proc(?:eedings|\.)?\s+of\s+(?:the\s+)?)?"
    r"(?:(?:19|20)\d\d\s+)?(?:\d+(?:st|nd|rd|th)\s+)?(?:edition\s+of\s+(?:the\s+)?)?",
    re.IGNORECASE,
)
_JOURNAL_WORDS = re.compile(
    r"\b(?:journal|transactions|letters|magazine|review|computers?|computing|fusion|medicine)\b|\bvol(?:ume)?\.?\s*\d",
    re.I,
)
_EVENT_WORDS = re.compile(
    r"\b(?:conference|workshop|symposium|congress|meeting|forum|summit|proceedings)\b", re.I
)
_MONTHS_DECIDED = 12


class Venue(NamedTuple):
    """A normalised venue: canonical name, year (None when not stated) and kind."""

    venue: str
    year: int | None
    kind: str

    @property
    def display(self) -> str:
        """As shown to people: "ICML 2026", "ICLR 2026 Workshop", "Findings of ACL 2026", "IEEE TPAMI"."""
        name = f"{self.venue} {self.year}" if self.year else self.venue
        if self.kind == "findings":
            return f"Findings of {name}"
        if self.kind == "workshop":
            return f"{name} Workshop"
        if self.kind == "demo":
            return f"{name} Demo"
        return name


class _Alias(NamedTuple):
    tokens: tuple[str, ...]
    venue: str
    kind: str
    exact: str | None  # the only spelling accepted, for short acronyms that are also words


def _build_aliases() -> tuple[dict[str, list[_Alias]], dict[str, tuple[int, int] | None]]:
    by_first: dict[str, list[_Alias]] = {}
    decisions: dict[str, tuple[int, int] | None] = {}
    for venue, kind, decision, aliases in _TABLE:
        decisions[venue] = decision
        for alias in aliases.split("|"):
            exact = alias[1:] if alias.startswith("=") else None
            tokens = tuple(t.translate(_ASCII_LOWER) for t in _TOKEN.findall(exact or alias))
            by_first.setdefault(tokens[0], []).append(_Alias(tokens, venue, kind, exact))
    for workshop, venue in _WORKSHOP_SUFFIX.items():
        by_first.setdefault(workshop.lower(), []).append(_Alias((workshop.lower(),), venue, "workshop", None))
    for entries in by_first.values():
        entries.sort(key=lambda a: -len(a.tokens))  # longest alias first
    return by_first, decisions


_ALIASES, _DECISIONS = _build_aliases()


class _Found(NamedTuple):
    start: int
    end: int
    venue: str
    kind: str  # the alias's default kind


def extract_venues(
    arxiv_id: str,
    comment: str | None,
    journal_ref: str | None = None,
    source: str = "text",
    *,
    as_of: date | datetime | None = None,
) -> list[VenueMention]:
    """Acceptances stated in an arXiv comment and journal-ref, in text order (journal-ref last).

    >>> mentions = extract_venues("2501.00001", "Accepted to Findings of ACL 2026", None)
    >>> [(m.venue, m.year, m.kind) for m in mentions]
    [('ACL', 2026, 'findings')]

    `as_of` is when the comment was written (the version's date); without it the month of a
    new-style arXiv id stands in. Submissions, reviews and rejections give no mention (see the
    module docstring). `raw` is the sentence of the text the mention came from.
    """
    listed = _listing_month(arxiv_id, as_of)
    mentions: list[VenueMention] = []
    if comment and not comment.isspace():
        sentences = _sentences(comment)
        # "SLE2019; under review": a venue named without any verb counts only when nothing in
        # the comment speaks of submission or review, or something speaks of acceptance.
        triggers = [list(_TRIGGER.finditer(low)) for _, _, low in sentences]
        kinds = {t.lastgroup for found in triggers for t in found}
        doubt = bool(kinds & {"neg", "other"}) and "strong" not in kinds
        seen: set[Venue] = set()
        for (raw, sentence, low), found in zip(sentences, triggers, strict=True):
            for venue in _sentence_venues(sentence, low, found, None if doubt else listed, doubt):
                if venue not in seen:
                    seen.add(venue)
                    mentions.append(VenueMention(arxiv_id, venue.venue, venue.year, source, raw, venue.kind))
    if journal_ref and not journal_ref.isspace():
        ref = _journal_ref_venue(" ".join(journal_ref.split()))
        if ref is not None:
            mentions.append(
                VenueMention(arxiv_id, ref.venue, ref.year, source, journal_ref.strip(), ref.kind)
            )
    return mentions


def best_venue(mentions: list[VenueMention]) -> str | None:
    """The display string of the venue to show for a paper: venues from the alias table before
    others, then main conference, Findings, journal and demo before workshops, dated before
    undated ("ACM TOG (Proc. SIGGRAPH 2026)" → SIGGRAPH 2026), then text order.

    >>> best_venue(extract_venues("2606.00001", "Workshop on X @ ICML 2026", None))
    'ICML 2026 Workshop'
    """
    if not mentions:
        return None
    best = min(
        enumerate(mentions),
        key=lambda im: (im[1].venue not in _DECISIONS, im[1].kind == "workshop", im[1].year is None, im[0]),
    )[1]
    return Venue(best.venue, best.year, best.kind).display


def normalize_conference(name: str | None, year: int | None = None) -> Venue | None:
    """A Papers-with-Code conference name or slug as a Venue ("NeurIPS 2025", "ICLR",
    "neurips-2025", "cvpr-2020-1", "NeurIPS 2018 12"); `year` fills in a name without one.

    >>> normalize_conference("neurips-2025")
    Venue(venue='NeurIPS', year=2025, kind='main')

    Names outside the alias table come back as written (year split off); None for empty input.
    """
    if not name or not name.strip():
        return None
    text = re.sub(r"[-_]+", " ", name.strip())
    years = [int(y) for y in _YEAR.findall(text)]
    found = _find_aliases(text, text.translate(_ASCII_LOWER))
    low = text.translate(_ASCII_LOWER)
    kind = "findings" if _FINDINGS.search(low) else "workshop" if _WORKSHOP.search(low) else None
    if found:
        hit = found[0]
        return Venue(hit.venue, years[0] if years else year, kind or hit.kind)
    bare = " ".join(t for t in _YEAR.sub(" ", text).split() if not t.isdigit())
    if not bare:
        return None
    return Venue(
        bare, years[0] if years else year, kind or ("journal" if _JOURNAL_WORDS.search(bare) else "main")
    )


def _listing_month(arxiv_id: str, as_of: date | datetime | None) -> tuple[int, int] | None:
    if as_of is not None:
        return as_of.year, as_of.month
    match = re.match(r"(\d\d)(\d\d)\.\d{4,5}", arxiv_id)
    if match is None:
        return None  # old-style ids: no date in them, and no bare-mention check
    return 2000 + int(match.group(1)), int(match.group(2))


def _sentences(text: str) -> list[tuple[str, str, str]]:
    """(raw sentence, sentence with URLs blanked out, the same in ASCII lower case) for each
    sentence: venue words inside links ("proceedings.neurips.cc/...") are not statements."""
    text = " ".join(text.split())
    blank = _URL_TEXT.sub(lambda m: " " * len(m.group(0)), text) if "/" in text else text
    out = []
    start = 0
    for match in _SENTENCE_END.finditer(blank):
        if match.group(0).startswith("."):
            word = blank[: match.start()].rsplit(" ", 1)[-1].lower()
            if word in _ABBREVIATIONS or len(word) == 1:
                continue
        out.append((start, match.start()))
        start = match.end()
    out.append((start, len(text)))
    return [
        (text[a:b].strip(), blank[a:b], blank[a:b].translate(_ASCII_LOWER))
        for a, b in out
        if blank[a:b].strip()
    ]


def _find_aliases(sentence: str, low: str) -> list[_Found]:
    tokens = [(m.start(), m.end()) for m in _TOKEN.finditer(sentence)]
    found: list[_Found] = []
    i = 0
    while i < len(tokens):
        start, end = tokens[i]
        hit = None
        for alias in _ALIASES.get(low[start:end], ()):
            n = len(alias.tokens)
            if i + n > len(tokens) or any(
                low[s:e] != t for (s, e), t in zip(tokens[i : i + n], alias.tokens, strict=False)
            ):
                continue
            if alias.exact is not None and sentence[start:end] != alias.exact:
                continue
            if i + n < len(tokens) and low[tokens[i + n][0] : tokens[i + n][1]] in ("anthology", "rolling"):
                continue  # "ACL Anthology", "ACL Rolling Review": an archive and a review system
            if n > 2 and i + n < len(tokens) and _continues(sentence, tokens[i + n - 1][1], tokens[i + n]):
                continue  # "International Conference on Computer Vision Systems" is another venue
            hit = alias
            break
        if hit is None:
            i += 1
            continue
        n = len(hit.tokens)
        found.append(_Found(start, tokens[i + n - 1][1], hit.venue, hit.kind))
        i += n
    # "Findings of the Association for Computational Linguistics: EMNLP 2025" is EMNLP's
    return [
        hit
        for i, hit in enumerate(found)
        if not (
            hit.venue == "ACL"
            and i + 1 < len(found)
            and sentence[hit.end : found[i + 1].start].strip() in (":", "-")
        )
    ]


def _continues(sentence: str, prev_end: int, nxt: tuple[int, int]) -> bool:
    gap = sentence[prev_end : nxt[0]]
    word = sentence[nxt[0] : nxt[1]]
    if gap.strip() == ",":
        # "International Conference on Computer Vision, Image and Deep Learning" is another venue
        return bool(re.match(r"[A-Z][\w-]*(?:\s+[A-Z][\w-]*)?,?\s+and\s+[A-Z]", sentence[nxt[0] :]))
    return gap.strip() == "" and (word[:1].isupper() or word in ("and", "for", "in", "of"))


def _sentence_venues(
    sentence: str, low: str, triggers: list[re.Match[str]], listed: tuple[int, int] | None, doubt: bool
) -> list[Venue]:
    found = _find_aliases(sentence, low)
    clause_ends = [m.start() for m in _CLAUSE_END.finditer(low)]
    after_ends = [m.start() for m in _AFTER_END.finditer(low)]
    venues: list[Venue] = []
    for hit in found:
        status, since = _status(triggers, clause_ends, hit.start)
        if status is None:
            status = _status_after(triggers, after_ends, hit.end)
            since = 0
        year, satellite = _year(sentence, hit, since)
        until = next((h.start for h in found if h.start > hit.start), len(low))
        kind = "workshop" if satellite else _kind(low, hit, since, until)
        if status == "neg" and _ACCEPTED_AFTER.match(low, hit.end):
            status = "pos"  # "Submitted to INLG 2025 (accepted)"
        if _CHALLENGE_AFTER.match(low, hit.end):
            continue  # "Accepted by MICCAI 2025 CARE Challenge": a challenge entry, not a paper
        if status == "bare":
            if doubt or not _bare_counts(hit, year, kind, low, listed):
                continue
        elif status != "pos":
            continue
        same = next((i for i, v in enumerate(venues) if v.venue == hit.venue), None)
        if same is None:
            venues.append(Venue(hit.venue, year, kind))
        elif venues[same].year is None and year is not None:
            # "Computer Vision and Image Understanding (CVIU), 2025": one venue, named twice
            venues[same] = Venue(hit.venue, year, venues[same].kind)
    if not venues:
        generic = _generic(sentence, low, triggers, listed, doubt)
        if generic is not None:
            venues.append(generic)
    return venues


def _status(triggers: list[re.Match[str]], clause_ends: list[int], pos: int) -> tuple[str | None, int]:
    """State at `pos` after reading the triggers before it: "pos", "neg" or None (none yet)."""
    state: str | None = None
    since = 0
    other_until = -1
    had_other = False
    for trig in triggers:
        if trig.start() >= pos:
            break
        if trig.lastgroup == "other":
            other_until = _other_scope_end(triggers, clause_ends, trig)
            had_other = True
            continue
        if trig.start() < other_until and trig.lastgroup in ("strong", "weak"):
            continue  # "A preliminary version was accepted ..., in the context of X": not this text
        if trig.lastgroup == "strong" or (trig.lastgroup == "weak" and state != "neg"):
            state, since = "pos", trig.start()
        elif trig.lastgroup == "neg":
            if state == "pos" and trig.group(0).startswith("submission") and trig.start() - since < 50:
                continue  # "accepted as a main conference submission"
            state, since = "neg", trig.start()
    if other_until > pos or (state is None and had_other):
        return "neg", since
    return state, since


def _other_scope_end(triggers: list[re.Match[str]], clause_ends: list[int], trig: re.Match[str]) -> int:
    """Where "extended version of X" stops speaking of X: at the next clause, unless that clause
    is a participle about X ("This work extends S2ST-Omni, accepted to Findings of ACL 2026")."""
    end = next((c for c in clause_ends if c > trig.end()), 1 << 30)
    following = next((t for t in triggers if t.start() > end), None)
    if following is not None and following.lastgroup == "strong" and following.start() - end <= 3:
        return next((c for c in clause_ends if c > following.end()), 1 << 30)
    return end


def _status_after(triggers: list[re.Match[str]], clause_ends: list[int], end: int) -> str:
    """For a venue before any trigger: the first trigger after it in its clause ("ISBI 2026
    accepted", "MIDL 2026 (under review)"), else "bare"."""
    limit = next((c for c in clause_ends if c >= end), 1 << 30)
    for trig in triggers:
        if trig.start() < end:
            continue
        if trig.start() > limit:
            break
        if trig.lastgroup in ("neg", "other"):
            return "neg"
        return "pos"
    return "bare"


def _year(sentence: str, hit: _Found, since: int) -> tuple[int | None, bool]:
    """The venue's year, and whether a satellite event was named between ("MICCAI - ASMUS 2025")."""
    satellite = _SATELLITE.match(sentence, hit.end)
    if satellite is not None:
        return int(satellite.group(1)), True
    after = _YEAR_AFTER.match(sentence, hit.end)
    if after is not None:
        digits = after.group(1)
        glued = after.start(1) == hit.end or any(
            c in "'’‘`-_" for c in sentence[after.start(1) - 2 : after.start(1)]
        )
        if len(digits) == 4:
            return int(digits), False
        if glued:
            return 2000 + int(digits), False
    # "the 2026 ACM Conference on ...", "2025 IJCNN": a year between the trigger and the venue
    before = sentence[since : hit.start]
    years = _YEAR.findall(before[-60:])
    if years and not re.search(r"[.;]", before[before.rfind(years[-1]) :]):
        return int(years[-1]), False
    return None, False


def _kind(low: str, hit: _Found, since: int, until: int) -> str:
    """main, or what the words around the venue make it ("X Workshop", "Findings of", "demo
    track"): from the acceptance before it to the end of its clause or the next venue."""
    tail = low[hit.end : until]
    stop = re.search(r"[,.;]|\bsubmi", tail)
    around = low[since : hit.start] + " " + (tail[: stop.start()] if stop else tail)
    if hit.kind in ("workshop", "journal") and not _FINDINGS.search(around):
        return hit.kind
    if _FINDINGS.search(around):
        return "findings"
    if _WORKSHOP.search(around):
        return "workshop"
    if _DEMO.search(around):
        return "demo"
    return hit.kind


def _bare_counts(hit: _Found, year: int | None, kind: str, low: str, listed: tuple[int, int] | None) -> bool:
    if year is None:
        # "Transactions on Machine Learning Research", "ACL Proceedings": a journal, or a
        # conference named with a word that says the paper is in it.
        return kind == "journal" or bool(
            re.search(r"\bpaper\b|\btrack\b|\bproceedings\b|\bmain\b|\bfindings\b|\bworkshop\b", low)
        )
    if kind == "findings":
        return True  # Findings exist only once the decisions are out
    return _decided(_DECISIONS.get(hit.venue) or _DEFAULT_DECISION, year, listed)


def _decided(decision: tuple[int, int], year: int, listed: tuple[int, int] | None) -> bool:
    if listed is None:
        return True
    years_before, month = decision
    return listed[0] * _MONTHS_DECIDED + listed[1] >= (year + years_before) * _MONTHS_DECIDED + month


def _unknown(name: str) -> bool:
    """A plausible acronym of a venue the alias table does not know (those were read already)."""
    return name not in _NOT_ACRONYMS and name.lower() not in _ALIASES


def _generic(
    sentence: str, low: str, triggers: list[re.Match[str]], listed: tuple[int, int] | None, doubt: bool
) -> Venue | None:
    """A venue outside the alias table: after an acceptance ("Accepted at ICAIL 2026"), before
    one ("IEEE IoT 2026 (accepted)"), or a sentence that is only a venue and its year
    ("ISPRS Congress 2026", "The 15th Workshop on ... (CMCL 2026)")."""
    clause_ends = [m.start() for m in _CLAUSE_END.finditer(low)]
    for i, trig in enumerate(triggers):
        if trig.lastgroup not in ("strong", "weak") or _status(triggers, clause_ends, trig.end())[0] != "pos":
            if not (trig.lastgroup == "strong" and _ACCEPTED_AFTER.match(low, max(0, trig.start() - 3))):
                continue
        # the venue is named between this acceptance and the next negative word, if any
        stop = next((t.start() for t in triggers[i + 1 :] if t.lastgroup in ("neg", "other")), len(sentence))
        tail = sentence[trig.end() : stop]
        verb = trig.lastgroup == "strong" and re.match(
            r"ac|to appear|appear|published|presented|will", trig.group(0)
        )
        if not verb and not re.match(r"\s*(?:in|at|to|of|for|on)\b", tail, re.IGNORECASE):
            continue  # "Publication Notice", "Peer Reviewed Review Paper for ...": no venue named
        venue = _phrase_venue(_LEAD_IN.sub("", tail), sentence[: trig.start()])
        if venue is None:  # "IEEE IoT 2026 (accepted for publication)", "INLG 2025 (accepted)"
            trailing = _TRAILING_VENUE.search(sentence[: trig.start()])
            if trailing and _unknown(trailing.group("name")):
                venue = Venue(trailing.group("name"), int(trailing.group("year")), "main")
        if venue is not None:
            return venue
    if triggers or doubt:
        return None
    bare = _BARE_ACRONYM.match(sentence)
    if bare and _unknown(bare.group("name")) and _decided(_DEFAULT_DECISION, int(bare.group("year")), listed):
        return Venue(
            bare.group("name"), int(bare.group("year")), "workshop" if _WORKSHOP.search(low) else "main"
        )
    named = _BARE_NAME.match(sentence)
    if named and named.group("year"):
        name = named.group("name").strip()
        kind = "workshop" if "workshop" in name.lower() else "main"
        return Venue(name, int(named.group("year")), kind)
    paren = _PAREN_VENUE.search(sentence)
    if paren and _EVENT_WORDS.search(sentence[: paren.start()]) and _unknown(paren.group("name")):
        kind = "workshop" if "workshop" in low[: paren.start()] else "main"
        return Venue(paren.group("name"), int(paren.group("year")), kind)
    return None


def _phrase_venue(phrase: str, before: str) -> Venue | None:
    """The venue named at the start of the text after an acceptance trigger, if it is not in the
    alias table (those were read already): its acronym, else its name as written."""
    years = [int(y) for y in _YEAR.findall(phrase[:130])]
    phrase = _PHRASE_START.sub("", phrase).strip()
    if not phrase:
        return None
    year = years[0] if years else None
    name = (
        _pick_acronym(phrase) if phrase[0].isupper() or phrase[:2].isalpha() and phrase[1].isupper() else None
    )
    if name is not None:
        short = re.search(re.escape(name) + r"\s*['’]\s?(\d\d)\b", phrase)
        if year is None and short is not None:
            year = 2000 + int(short.group(1))
    elif phrase[0].isupper():
        head_end = _NAME_STOP.search(phrase)
        head = phrase[: head_end.start()] if head_end else phrase
        head = re.sub(
            r"^(?:(?:IEEE|ACM|IEEE/CVF)\s+)(?=.*\b(?:Conference|Workshop|Symposium)\b)", "", head.strip()
        )
        head = re.sub(r"(?:\s+(?:in|at|on|of|for|the|and|by))+$", "", head.strip(" -:'\""))
        if head and head[0].isupper() and len(head.split()) <= 14:
            name = head
    if name is None:  # "accepted and scheduled for inclusion in the ICALT 2025 proceedings"
        inner = _ACRONYM_YEAR.search(phrase)
        if inner is None:
            return None
        name, year = inner.group("name"), int(inner.group("year"))
    if len(name) < 2 or not _unknown(name) or name.lower().startswith(_NOT_VENUES):
        return None
    context = f"{before} {phrase[:160]}".lower()
    if "workshop" in context or re.search(r"\bws\b", context):
        kind = "workshop"
    elif _DEMO.search(context):
        kind = "demo"
    elif _FINDINGS.search(context):
        kind = "findings"
    elif not _EVENT_WORDS.search(before[-40:] + " " + phrase[:120]) and (
        year is None or _JOURNAL_WORDS.search(phrase[:80])
    ):
        kind = "journal"
    else:
        kind = "main"
    return Venue(name, year, kind)


def _pick_acronym(phrase: str) -> str | None:
    """The acronym naming the venue: in parentheses ("(ICAIL 2026)"), or before the first "on",
    "of" or "for" of a long name ("SIGSPATIAL International Workshop on ..."), or "APSIPA ASC"."""
    paren = re.search(
        r"\(\s*(?:(?:IEEE|ACM)\s+)?([A-Z][A-Za-z0-9&-]*[A-Z][A-Za-z0-9&-]*)\b[^)]*\)", phrase[:200]
    )
    if paren and paren.group(1) not in _NOT_ACRONYMS:
        return re.sub(r"(?<=[A-Za-z])(?:19|20)\d\d$", "", paren.group(1).rstrip("-"))  # "(FLLM2025)"
    head = re.split(r"\b(?:on|of|for|in|at)\b|[,;:(]", phrase, maxsplit=1)[0]
    words = [w for w in re.split(r"[\s/]+", head) if w]
    picked: list[str] = []
    for word in words:
        clean = word.strip(".'’\"")
        if clean in _PUBLISHERS or clean in _NOT_ACRONYMS:
            if picked:
                break
            continue
        clean = re.sub(r"(?<=[A-Za-z])(?:(?:19|20)\d\d|['’]\d\d)$", "", clean)  # "SBIE2025", "IASEAI'26"
        if _ACRONYM.fullmatch(clean) and not clean.isdigit():
            picked.append(clean)
        elif picked:
            break
    return " ".join(picked) if picked else None


def _journal_ref_venue(ref: str) -> Venue | None:
    """A journal-ref is a publication: the venue it names, with its (last) year."""
    found = _find_aliases(ref, ref.translate(_ASCII_LOWER))
    years = [int(y) for y in _YEAR.findall(ref)]
    year = years[0] if years else None  # the first: an erratum's year comes after
    low = ref.lower()
    if found:
        hit = found[0]
        kind = "findings" if _FINDINGS.search(low) else "workshop" if _WORKSHOP.search(low) else hit.kind
        return Venue(hit.venue, year, kind)
    name = re.split(r"[,:(;]|\d|\b(?:vol|no)\b", ref, maxsplit=1, flags=re.IGNORECASE)[0].strip(" .")
    name = _NAME_LEAD.sub("", name).strip()
    if not name:
        return None
    kind = "workshop" if "workshop" in low else "main" if _EVENT_WORDS.search(low) else "journal"
    return Venue(name, year, kind)
