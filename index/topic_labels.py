"""Topic labels: the distinctive terms of each cluster (class-based TF-IDF over titles and abstracts).

Each paper is reduced to a set of terms: words and two-word phrases of its title and
abstract, lower-cased, with LaTeX, URLs, numbers, English stop words and the boilerplate of
abstracts ("we propose", "results show") removed. A cluster's score for a term is
BERTopic's c-TF-IDF over document frequencies,

    score(t, c) = df(t, c) / n(c) * log(1 + A / df(t))

where df(t, c) is how many papers of cluster c contain t, n(c) its size, df(t) how many
papers of all clusters contain t, and A the mean cluster size: frequent in the cluster,
rare elsewhere. Counting papers rather than occurrences keeps one paper that repeats a
word from labelling its whole cluster. A label is the best three terms, skipping words
already covered by a better phrase ("diffusion" after "diffusion models").
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np
from scipy import sparse
from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS, CountVectorizer

LABEL_TERMS = 3  # terms in a label
TOP_TERMS = 10  # terms kept per topic
MIN_DF = 3  # a term must occur in this many papers of the corpus

# Words that say nothing about an abstract's subject. FILLER (verbs and phrases of the
# genre: "we propose", "results show") never appears in a term; GENERIC words are kept
# inside phrases ("language models", "novel view synthesis") but are no term alone.
FILLER = frozenset("""
    paper propose proposed proposes present presents presented introduce introduces
    introduced show shows shown showing demonstrate demonstrates demonstrated study studies
    studied achieve achieves achieved achieving outperforms outperform outperforming
    leverage leverages leveraging enables enable enabling including specifically provide
    plays play played role gained gaining widely increasingly growing
    provides providing address addresses addressing aim aims furthermore moreover however
    compared extensive experiments experimental results significantly improves improved
    improve effectively efficiently publicly available code github https http www com org io
    release released evaluate evaluated demonstrating remains despite typically often rely
    relies using use used uses based existing recent recently various different key
    crucial critical comprehensive superior better best state art sota remarkable notably
    novel-
""".split())
GENERIC = frozenset("""
    method methods approach approaches model models framework frameworks performance problem
    problems task tasks data dataset datasets benchmark benchmarks learning training trained
    train network networks analysis evaluation evaluations set sets effectiveness robust
    robustness accuracy accurate quality prior previous significant challenging challenge
    challenges end large high low new novel work works real world capabilities capability
    generalization process processes design designed strategy strategies module modules
    mechanism mechanisms information features feature representations representation simple
    strong potential current conventional traditional stage stages level way ways effective
    efficient important limited art approach system systems technique techniques paradigm
    multiple single specific general various
""".split())
STOP = frozenset(ENGLISH_STOP_WORDS) | FILLER | {"et", "al", "ie", "eg", "vs", "via", "etc", "non"}

_MATH = re.compile(r"\$[^$]*\$|\\\(.*?\\\)|\\\[.*?\\\]")
_COMMAND = re.compile(r"\\[a-zA-Z]+\*?|\\.")  # \textbf{Sparse} keeps "Sparse"
_URL = re.compile(r"https?://\S+|www\.\S+")
_TOKEN = re.compile(r"[0-9]*[a-z][a-z0-9]*(?:-[a-z0-9]+)*")  # "3d", not "2024"; "sam's" -> sam
_SPLIT = re.compile(r"[.,;:!?()\[\]\"]")  # phrases never cross these


def terms(text: str) -> list[str]:
    """The terms of one text: informative words, and phrases of two or three adjacent words
    with no stop word inside, neither made of generic words only.

    >>> terms("We propose $\\alpha$-Diffusion models for video generation (see https://x.io).")
    ['diffusion', 'diffusion models', 'video', 'video generation', 'generation']
    """
    text = _URL.sub(" ", text)
    text = _COMMAND.sub(" ", _MATH.sub(" ", text)).lower()
    found: list[str] = []
    for chunk in _SPLIT.split(text):
        run: list[str] = []
        for word in _TOKEN.findall(chunk):
            if word in STOP or len(word) < 2:
                if run:
                    _emit(run, found)
                    run = []
            else:
                run.append(word)
        if run:
            _emit(run, found)
    return found


def _emit(run: list[str], found: list[str]) -> None:
    """The terms of a run of words without stop words: every word, pair and triple that is
    not made of generic words only."""
    n = len(run)
    if not n:
        return
    generic = [w in GENERIC for w in run]
    for i, word in enumerate(run):
        if not generic[i]:
            found.append(word)
        if i + 1 < n:
            if not (generic[i] and generic[i + 1]):
                found.append(f"{word} {run[i + 1]}")
            if i + 2 < n and not (generic[i] and generic[i + 1] and generic[i + 2]):
                found.append(f"{word} {run[i + 1]} {run[i + 2]}")


def topic_terms(
    texts: Sequence[str], labels: np.ndarray, k: int, n_terms: int = TOP_TERMS
) -> list[list[str]]:
    """The `n_terms` most distinctive terms of each of `k` clusters; `labels[i]` is text i's cluster.

    A cluster with no papers gets an empty list. Raises ValueError if `labels` and `texts`
    differ in length.
    """
    return topic_terms_levels(texts, [(labels, k)], n_terms)[0]


def topic_terms_levels(texts: Sequence[str], levels: Sequence[tuple[np.ndarray, int]],
                       n_terms: int = TOP_TERMS) -> list[list[list[str]]]:
    """`topic_terms` for several clusterings of the same texts (fine and broad topics),
    reading the texts once."""
    for labels, _ in levels:
        if len(labels) != len(texts):
            raise ValueError(f"{len(texts)} texts but {len(labels)} cluster labels")
    if not len(texts):
        return [[[] for _ in range(k)] for _, k in levels]
    vectorizer = CountVectorizer(analyzer=terms, binary=True, min_df=min(MIN_DF, len(texts)),
                                 dtype=np.int32)
    try:
        docs = vectorizer.fit_transform(texts)
    except ValueError:  # no term anywhere (empty texts)
        return [[[] for _ in range(k)] for _, k in levels]
    vocab = [str(t) for t in vectorizer.get_feature_names_out()]
    words = np.array([t.count(" ") for t in vocab])
    found = []
    for labels, k in levels:
        labels = np.asarray(labels, np.int64)
        member = sparse.csr_matrix((np.ones(len(labels), np.float32),
                                    (labels, np.arange(len(labels)))), shape=(k, len(labels)))
        df_class = (member @ docs).toarray().astype(np.float64)  # k x terms
        sizes = np.bincount(labels, minlength=k).astype(np.float64)
        mean_size = sizes[sizes > 0].mean()
        weight = np.log1p(mean_size / np.maximum(df_class.sum(axis=0), 1))
        scores = df_class / np.maximum(sizes, 1)[:, None] * weight
        found.append([_best(scores[c], df_class[c], vocab, words, n_terms) if sizes[c] else []
                      for c in range(k)])
    return found


def _best(scores: np.ndarray, df: np.ndarray, vocab: list[str], words: np.ndarray,
          n: int) -> list[str]:
    """The best-scoring terms, phrases first on a tie; a term inside a chosen longer one is
    skipped, and a chosen term inside a longer one taken later gives it its place."""
    top = min(30 * n, len(scores))
    candidates = np.argpartition(-scores, top - 1)[:top]
    order = candidates[np.lexsort((-words[candidates], -scores[candidates]))]
    chosen: list[str] = []
    for j in order.tolist():
        if df[j] < 2 or scores[j] <= 0:
            break
        term = vocab[j]
        padded = f" {term} "
        if any(padded in f" {c} " for c in chosen):
            continue
        chosen = [c for c in chosen if f" {c} " not in padded]
        chosen.append(term)
        if len(chosen) >= n:
            break
    return chosen


def label_of(top_terms: Sequence[str]) -> str:
    """A short human label: the first LABEL_TERMS terms, comma-separated."""
    return ", ".join(top_terms[:LABEL_TERMS]) if top_terms else "(no distinctive terms)"
