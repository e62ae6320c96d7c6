"""Milvus insert paths compared (issue 16: "insert >= 5,000 passages/s when the vectors are given").

Each path inserts the same synthetic rows into a fresh collection of a milvus-lite file, one process per
size, the paths interleaved in rounds so that the machine's load (other jobs share its 2 cores) falls on all
of them alike:

- rows-numpy: `MilvusClient.insert` of row dicts, the vector a numpy float32 row (what `milvus_store` does);
- rows-list: the same with the vectors as Python lists (one `tolist()` of the whole matrix, timed);
- rows-numpy-2000: rows-numpy with 2,000 rows a call instead of 500;
- columns: the ORM `Collection.insert([col, col, ...])`, one list per field (pymilvus's column path,
  `Prepare.batch_insert_param`), vectors as lists of lists.

Schemas: `planqa` is the passage collection of `assistant/retrieve/milvus_store.py` (row, vector, zh and en
text with a jieba / standard analyzer and a BM25 function each, doc_id, chapter, section, box, part);
`planqa-no-bm25` has the same fields without analyzers and BM25 functions (as `bench_scale.py`'s collection),
to separate pymilvus's and milvus-lite's per-row work from the BM25 analysis milvus-lite does on insert.

Rows: random unit vectors (384 dimensions, float32, seed 0); zh: 60 words drawn from 40 common words of the
plans joined by spaces (~190 characters, as `zh_text` joins jieba's words); en: 40 English words; a document
id per 250 rows, chapters 0-11, section and box -1, part "body".

    .venv/bin/python benchmarks/bench_milvus_insert.py --rows 20000
    .venv/bin/python benchmarks/bench_milvus_insert.py --rows 100000 --paths rows-numpy,columns
    .venv/bin/python benchmarks/bench_milvus_insert.py --rows 5000 --profile   # where the time goes

Each path reports passages/s (wall time of its insert calls) and passages per CPU-second (`process_time`, all
threads of the process: pymilvus, gRPC and milvus-lite, which runs in this process; mostly Python under one
GIL, so about what one idle core would give).

`--profile` profiles one insert of the `planqa` schema: pymilvus in the calling thread and milvus-lite's
`Collection.insert` in its server thread (milvus-lite runs in this process), each with cProfile.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import os
import pstats
import shutil
import sys
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from assistant.retrieve.milvus_store import (  # noqa: E402
    EN_ANALYZER,
    MAX_VARCHAR,
    SHORT_VARCHAR,
    ZH_ANALYZER,
    index_params,
)

DIM = 384
PATHS = ("rows-numpy", "rows-list", "rows-numpy-2000", "columns")
SCHEMAS = ("planqa", "planqa-no-bm25")
BATCH = 500  # milvus_store.INSERT_BATCH
ROUND_ROWS = 10_000  # rows each path inserts per round before the next path's turn
ZH_WORDS = (
    "生态 保护 规划 发展 水资源 湿地 草原 治理 建设 工程 青海 区域 环境 污染 防治 农业 牧区 城镇 "
    "基础设施 交通 能源 清洁 碳排放 森林 覆盖率 流域 黄河 长江 三江源 国家公园 旅游 文化 产业 "
    "循环经济 绿色 低碳 监测 体系 制度 机制"
).split()
EN_WORDS = "ecology protection plan water wetland grassland river basin energy carbon green park".split()
FIELDS = ("row", "vector", "zh", "en", "doc_id", "chapter", "section", "box", "part")


def synthetic(n: int) -> dict[str, Any]:
    rng = np.random.default_rng(0)
    vectors = rng.standard_normal((n, DIM), dtype=np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    zh_pick = rng.integers(0, len(ZH_WORDS), size=(n, 60))
    en_pick = rng.integers(0, len(EN_WORDS), size=(n, 40))
    return {
        "row": list(range(n)),
        "vector": vectors,
        "zh": [" ".join(ZH_WORDS[j] for j in pick) for pick in zh_pick],
        "en": [" ".join(EN_WORDS[j] for j in pick) for pick in en_pick],
        "doc_id": [f"doc{i // 250:05d}" for i in range(n)],
        "chapter": [i % 12 for i in range(n)],
        "section": [-1] * n,
        "box": [-1] * n,
        "part": ["body"] * n,
    }


def schema_of(kind: str) -> Any:
    from pymilvus import DataType, Function, FunctionType, MilvusClient

    bm25 = kind == "planqa"
    schema = MilvusClient.create_schema(auto_id=False)
    schema.add_field("row", DataType.INT64, is_primary=True)
    schema.add_field("vector", DataType.FLOAT_VECTOR, dim=DIM)
    for lang, analyzer in (("zh", ZH_ANALYZER), ("en", EN_ANALYZER)):
        if not bm25:
            schema.add_field(lang, DataType.VARCHAR, max_length=MAX_VARCHAR)
            continue
        schema.add_field(lang, DataType.VARCHAR, max_length=MAX_VARCHAR, enable_analyzer=True, analyzer_params=analyzer)
        schema.add_field(f"{lang}_sparse", DataType.SPARSE_FLOAT_VECTOR)
        schema.add_function(
            Function(
                name=f"{lang}_bm25",
                function_type=FunctionType.BM25,
                input_field_names=[lang],
                output_field_names=[f"{lang}_sparse"],
            )
        )
    schema.add_field("doc_id", DataType.VARCHAR, max_length=SHORT_VARCHAR)
    schema.add_field("chapter", DataType.INT64)
    schema.add_field("section", DataType.INT64)
    schema.add_field("box", DataType.INT64)
    schema.add_field("part", DataType.VARCHAR, max_length=SHORT_VARCHAR)
    return schema


class Inserter:
    """One path into its own collection, a block of rows at a time; `seconds` counts only the inserting."""

    def __init__(self, client: Any, alias: str, path: str, kind: str, data: dict[str, Any]) -> None:
        from pymilvus import Collection

        self.client, self.path, self.kind, self.data = client, path, kind, data
        self.name = f"{kind.replace('-', '_')}_{path.replace('-', '_')}"
        client.create_collection(self.name, schema=schema_of(kind))
        self.orm = Collection(self.name, using=alias) if path == "columns" else None
        self.seconds, self.cpu, self.done = 0.0, 0.0, 0

    def insert(self, lo: int, hi: int) -> None:
        d = self.data
        started, cpu = time.perf_counter(), time.process_time()
        if self.path == "columns":
            for a in range(lo, hi, BATCH):
                b = min(hi, a + BATCH)
                self.orm.insert([d["vector"][a:b].tolist() if f == "vector" else d[f][a:b] for f in FIELDS])
        else:
            batch = 2_000 if self.path == "rows-numpy-2000" else BATCH
            vectors = d["vector"][lo:hi].tolist() if self.path == "rows-list" else d["vector"][lo:hi]
            rows = [
                {f: (vectors[i - lo] if f == "vector" else d[f][i]) for f in FIELDS}  # built as milvus_store does
                for i in range(lo, hi)
            ]
            for a in range(0, len(rows), batch):
                self.client.insert(self.name, rows[a : a + batch])
        self.seconds += time.perf_counter() - started
        self.cpu += time.process_time() - cpu  # every thread of the process: pymilvus, gRPC and milvus-lite
        self.done += hi - lo

    def check(self, queries: np.ndarray) -> tuple[int, list[list[int]], list[int]]:
        """Row count, dense top 5 of each query, BM25 top 5 of a Chinese query (after flush, index, load)."""
        client = self.client
        client.flush(self.name)
        client.create_index(self.name, index_params(client, lexical=self.kind == "planqa"))
        client.load_collection(self.name)
        count = client.query(self.name, filter="", output_fields=["count(*)"], consistency_level="Strong")
        dense = client.search(self.name, data=[q for q in queries], anns_field="vector", limit=5, output_fields=["row"])
        top = [[int(h["entity"]["row"]) for h in hits] for hits in dense]
        lexical: list[int] = []
        if self.kind == "planqa":
            hits = client.search(
                self.name, data=["湿地 保护 三江源"], anns_field="zh_sparse", limit=5, output_fields=["row"]
            )
            lexical = [int(h["entity"]["row"]) for h in hits[0]]
        return int(count[0]["count(*)"]), top, lexical


def profile_insert(client: Any, data: dict[str, Any], rows: int) -> None:
    """cProfile of `rows` rows of the planqa schema through rows-numpy: client thread and server thread."""
    from milvus_lite.engine import collection as lite_collection

    server = cProfile.Profile()
    original = lite_collection.Collection.insert

    def profiled(self: Any, *args: Any, **kwargs: Any) -> Any:
        server.enable()
        try:
            return original(self, *args, **kwargs)
        finally:
            server.disable()

    lite_collection.Collection.insert = profiled
    inserter = Inserter(client, "bench", "rows-numpy", "planqa", data)
    client_profile = cProfile.Profile()
    client_profile.enable()
    inserter.insert(0, rows)
    client_profile.disable()
    lite_collection.Collection.insert = original
    print(f"profile: {rows:,} rows, {rows / inserter.seconds:,.0f} passages/s, load {os.getloadavg()[0]:.1f}")
    for label, prof in (("client thread (pymilvus)", client_profile), ("server thread (milvus-lite insert)", server)):
        out = io.StringIO()
        stats = pstats.Stats(prof, stream=out)
        print(f"\n--- {label}: {stats.total_tt:.2f} s")  # type: ignore[attr-defined]
        stats.sort_stats("cumulative").print_stats(18)
        print("\n".join(line for line in out.getvalue().splitlines()[6:] if line.strip()))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=20_000)
    parser.add_argument("--paths", default=",".join(PATHS))
    parser.add_argument("--schemas", default=",".join(SCHEMAS))
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args()

    from pymilvus import MilvusClient, connections

    # the ORM (Collection, connections) is deprecated in pymilvus 3.0 and goes in 3.1: said once, in the report
    warnings.filterwarnings("ignore", message=".*ORM-style PyMilvus API.*")

    folder = Path(tempfile.mkdtemp(prefix="planqa-milvus-insert-"))
    db = str(folder / "bench.db")
    data = synthetic(args.rows)
    client = MilvusClient(db)
    connections.connect(alias="bench", uri=db)  # the ORM connection to the same milvus-lite server
    load = [os.getloadavg()[0]]
    print(f"{args.rows:,} rows, 1-minute load average {load[0]:.1f} at the start", flush=True)
    try:
        if args.profile:
            profile_insert(client, data, args.rows)
            return
        inserters = [
            Inserter(client, "bench", path, kind, data)
            for kind in args.schemas.split(",")
            for path in args.paths.split(",")
        ]
        for lo in range(0, args.rows, ROUND_ROWS):
            hi = min(args.rows, lo + ROUND_ROWS)
            for inserter in inserters:
                inserter.insert(lo, hi)
            load.append(os.getloadavg()[0])
            print(
                f"  {hi:>7,} rows: "
                + ", ".join(f"{i.kind}/{i.path} {i.done / i.seconds:,.0f}/s" for i in inserters)
                + f" (load {load[-1]:.1f})",
                flush=True,
            )
        queries = (
            data["vector"][:: max(1, args.rows // 5)][:5] * 0.9 + data["vector"][1 :: max(1, args.rows // 5)][:5] * 0.1
        )
        print(
            "\n| schema | path | rows | passages/s | passages per CPU-second | load (min–max) |"
            "\n| --- | --- | ---: | ---: | ---: | --- |"
        )
        span = f"{min(load):.1f}–{max(load):.1f}"
        for inserter in inserters:
            rate = inserter.done / inserter.seconds
            per_cpu = inserter.done / inserter.cpu
            print(f"| {inserter.kind} | {inserter.path} | {inserter.done:,} | {rate:,.0f} | {per_cpu:,.0f} | {span} |")
        print("\nsame contents (count, dense top 5 of 5 queries, BM25 top 5):")
        reference: dict[str, Any] = {}
        for inserter in inserters:
            result = inserter.check(queries)
            same = reference.setdefault(inserter.kind, result) == result
            print(f"  {inserter.kind}/{inserter.path}: {result[0]:,} rows, bm25 {result[2]}, same as first: {same}")
    finally:
        client.close()
        connections.disconnect("bench")
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
