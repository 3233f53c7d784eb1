"""The peers of W14: the systems a user would pick instead of p8fs's embedded vector search,
on the very vectors, queries and tenant filter p8fs was measured on, in the same run.

Started by `p8fs-bench` (W14) with a directory it wrote:

    meta.json      {"n": rows, "dim": d, "queries": q, "k": 10, "rounds": r}
    vectors.f32    n x d little-endian float32, row after row
    tenant.u8      n bytes: 1 where the row belongs to the searched tenant
    queries.f32    q x d
    truth.json     per query, the row numbers of the exact k nearest in the tenant (p8fs's
                   exact search, which equals a float64 brute force)

Prints one JSON object: per system, the per-query latencies (microseconds) of every round,
each round's queries per second, recall@k against truth, and the build time of its index.

Systems:
* numpy: brute force, the memory-bandwidth bound of exact search. The tenant's rows are
  one contiguous float32 matrix normalised once (outside the timing), a query is one
  matrix-vector product and an argpartition.
* lancedb-flat: LanceDB, no vector index, the tenant as a prefilter (an exact scan).
* lancedb-hnsw: LanceDB with an IVF_HNSW_SQ index (cosine) and a bitmap index on the
  tenant, prefiltered.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
import time
import warnings


def main() -> None:
    # LanceDB's Rust core logs deprecation notices per query otherwise.
    os.environ.setdefault("LANCE_LOG", "error")
    os.environ.setdefault("RUST_LOG", "error")
    warnings.filterwarnings("ignore")
    data_dir = sys.argv[1]
    systems = sys.argv[2].split(",") if len(sys.argv) > 2 else ["numpy", "lancedb-flat", "lancedb-hnsw"]
    import numpy as np

    meta = json.load(open(os.path.join(data_dir, "meta.json")))
    n, d, nq, k, rounds = meta["n"], meta["dim"], meta["queries"], meta["k"], meta["rounds"]
    x = np.fromfile(os.path.join(data_dir, "vectors.f32"), dtype="<f4").reshape(n, d)
    tenant = np.fromfile(os.path.join(data_dir, "tenant.u8"), dtype=np.uint8).astype(bool)
    queries = np.fromfile(os.path.join(data_dir, "queries.f32"), dtype="<f4").reshape(nq, d)
    truth = json.load(open(os.path.join(data_dir, "truth.json")))
    out: dict[str, dict] = {}

    def measure(search, slow: bool = False) -> dict:
        # A system that scans every row from disk per query (LanceDB without an index)
        # takes seconds a query at a million rows: one round of 20 queries there.
        runs, qs = (1, queries[:20]) if slow and n * d > 100_000_000 else (rounds, queries)
        lat: list[float] = []
        per_round: list[float] = []
        found = 0
        wanted = 0
        for r in range(runs):
            start = time.perf_counter()
            for i, q in enumerate(qs):
                t = time.perf_counter()
                ids = search(q)
                lat.append((time.perf_counter() - t) * 1e6)
                if r == 0:
                    want = set(truth[i])
                    found += len(want.intersection(int(j) for j in ids))
                    wanted += len(want)
            per_round.append(len(qs) / max(time.perf_counter() - start, 1e-9))
        return {"latencies_us": lat, "round_ops_per_s": per_round, "recall": found / max(wanted, 1)}

    if "numpy" in systems:
        rows = np.flatnonzero(tenant)
        xt = x[rows]
        xt = xt / np.linalg.norm(xt, axis=1, keepdims=True).clip(min=1e-30)

        def numpy_search(q):
            s = xt @ (q / max(float(np.linalg.norm(q)), 1e-30))
            top = np.argpartition(-s, k)[:k]
            top = top[np.argsort(-s[top])]
            return rows[top]

        out["numpy"] = measure(numpy_search) | {"build_s": 0.0}

    lance_systems = [s for s in systems if s.startswith("lancedb")]
    if lance_systems:
        import lancedb
        import pyarrow as pa

        tmp = tempfile.mkdtemp(prefix="p8fs-lance-")
        try:
            db = lancedb.connect(tmp)
            vec = pa.FixedSizeListArray.from_arrays(pa.array(x.reshape(-1), type=pa.float32()), d)
            table = pa.table(
                {
                    "row": pa.array(np.arange(n, dtype=np.int64)),
                    "tenant": pa.array(np.where(tenant, "t", "other")),
                    "vector": vec,
                }
            )
            t = time.perf_counter()
            tbl = db.create_table("v", data=table)
            ingest_s = time.perf_counter() - t

            def lance_search(q):
                res = (
                    tbl.search(q, vector_column_name="vector")
                    .distance_type("cosine")
                    .where("tenant = 't'", prefilter=True)
                    .limit(k)
                    .select(["row", "_distance"])
                    .to_arrow()
                )
                return res.column("row").to_pylist()

            if "lancedb-flat" in lance_systems:
                out["lancedb-flat"] = measure(lance_search, slow=True) | {"build_s": 0.0, "ingest_s": ingest_s}
            if "lancedb-hnsw" in lance_systems:
                t = time.perf_counter()
                from lancedb.index import Bitmap, IvfHnswSq

                tbl.create_index("tenant", config=Bitmap())
                tbl.create_index("vector", config=IvfHnswSq(distance_type="cosine"))
                build_s = time.perf_counter() - t
                out["lancedb-hnsw"] = measure(lance_search) | {"build_s": build_s, "ingest_s": ingest_s}
        finally:
            shutil.rmtree(tmp, ignore_errors=True)

    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
