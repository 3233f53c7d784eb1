"""Checks the retrieval set and prints its statistics (standard library only).

Run from this folder: ``python3 check.py``. Exits 1 when the set is malformed, smaller than
300 documents or 100 queries, or when more than 10% of the paraphrase queries share more
than one content word with a document they are answered by.
"""

from __future__ import annotations

import json
import re
import sys
from collections import Counter
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent

STOP = set("""a an and are as at be but by can could do does did for from had has have how i if in into is it its
me my no not of on or our so than that the their them then there these they this to too was we were what when where
which who why will with would you your should after before over under up down out off once all any some more most
other own same just only very get got make one two am been being here each few i'm it's don't can't won't""".split())


def stem(word: str) -> str:
    """Crude stemming: enough to count "plants" and "plant" as one word."""
    for suffix in ("ing", "ed", "es", "s"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            return word[: -len(suffix)]
    return word


def content_words(text: str) -> set[str]:
    return {stem(w) for w in re.findall(r"[a-z0-9]+", text.lower()) if w not in STOP and len(w) > 1}


def load(name: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (HERE / name).read_text(encoding="utf-8").splitlines() if line.strip()]


def main() -> int:
    docs = load("documents.jsonl")
    queries = load("queries.jsonl")
    problems: list[str] = []
    by_id = {d["id"]: d for d in docs}
    if len(by_id) != len(docs):
        problems.append("duplicate document ids")
    if len({q["id"] for q in queries}) != len(queries):
        problems.append("duplicate query ids")
    topics = Counter(d["topic"] for d in docs)
    problems += [f"topic {t} has {n} documents (< 5)" for t, n in topics.items() if n < 5]
    for q in queries:
        if q["kind"] not in ("paraphrase", "keyword"):
            problems.append(f"{q['id']}: kind {q['kind']!r}")
        if not q["relevant"]:
            problems.append(f"{q['id']}: no relevant document")
        problems += [f"{q['id']}: unknown document {r}" for r in q["relevant"] if r not in by_id]
    if len(docs) < 300:
        problems.append(f"{len(docs)} documents (< 300)")
    if len(queries) < 100:
        problems.append(f"{len(queries)} queries (< 100)")
    overlap: dict[str, Counter[int]] = {"paraphrase": Counter(), "keyword": Counter()}
    offenders: list[str] = []
    for q in queries:
        qw = content_words(q["text"])
        worst = max(len(qw & content_words(by_id[r]["title"] + " " + by_id[r]["text"])) for r in q["relevant"] if r in by_id)
        overlap[q["kind"]][worst] += 1
        if q["kind"] == "paraphrase" and worst > 1:
            offenders.append(f"{q['id']} ({worst}): {q['text']}")
    para = sum(overlap["paraphrase"].values())
    kinds = Counter(q["kind"] for q in queries)
    print(f"documents: {len(docs)} in {len(topics)} topics; queries: {len(queries)} ({dict(kinds)})")
    print(f"relevant documents per query: {sum(len(q['relevant']) for q in queries) / len(queries):.2f}")
    for kind, c in overlap.items():
        dist = ", ".join(f"{k}: {c[k]}" for k in sorted(c))
        print(f"{kind}: content words shared with the relevant document (most over its documents): {dist}")
    if para and len(offenders) > para // 10:
        problems.append(f"{len(offenders)} of {para} paraphrase queries share more than one content word")
    for o in offenders:
        print("  shares more than one:", o)
    for p in problems:
        print("PROBLEM:", p)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
