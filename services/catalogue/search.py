"""Chinese search terms for the catalogue.

Indexed terms per item: jieba's search-mode words (so 宅基地 is a term of 农村村民宅基地审批), plus
every character and every character bigram of the Chinese runs (the usual CJK n-gram index, so any
substring of two or more characters is found even where the dictionary splits differently), plus
lower-cased Latin/digit words (codes). A query matches when the item holds all of its terms:
the query's bigrams (or the single character, for a one-character query) and Latin words.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Iterable

_CJK_RUN = re.compile(r"[\u3400-\u9fff]+")
_WORD = re.compile(r"[0-9A-Za-z]+")
_jieba_lock = threading.Lock()
_jieba = None


def _segmenter():
    global _jieba
    with _jieba_lock:
        if _jieba is None:
            import jieba

            jieba.setLogLevel(logging.WARNING)
            jieba.initialize()
            _jieba = jieba
    return _jieba


def _ngrams(run: str) -> set[str]:
    out = set(run)
    out.update(run[i:i + 2] for i in range(len(run) - 1))
    return out


def index_terms(texts: Iterable[str]) -> list[str]:
    jieba = _segmenter()
    terms: set[str] = set()
    for text in texts:
        if not text:
            continue
        for run in _CJK_RUN.findall(text):
            terms.update(_ngrams(run))
            terms.update(w for w in jieba.cut_for_search(run) if len(w) > 1)
        terms.update(w.lower() for w in _WORD.findall(text))
    return sorted(terms)


def query_terms(query: str) -> list[str]:
    terms: set[str] = set()
    for run in _CJK_RUN.findall(query or ""):
        if len(run) == 1:
            terms.add(run)
        else:
            terms.update(run[i:i + 2] for i in range(len(run) - 1))
    terms.update(w.lower() for w in _WORD.findall(query or ""))
    return sorted(terms)
