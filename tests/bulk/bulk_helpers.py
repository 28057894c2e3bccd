"""What the corpus-prediction tests share: a synthetic corpus, a Parquet folder of it, reading the output back."""

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

WORDS = ["great", "good", "love", "bad", "terrible", "hate", "the", "book", "film", "was", "is", "a", "very", "not"]


def corpus(n: int, seed: int = 0) -> list[tuple[str, str]]:
    rng = np.random.default_rng(seed)
    return [(f"doc-{seed}-{i:06d}", " ".join(rng.choice(WORDS, size=int(rng.integers(3, 9))))) for i in range(n)]


def write_parquet_folder(folder, rows, files=3):
    folder.mkdir(parents=True, exist_ok=True)
    per = -(-len(rows) // files)
    for f in range(files):
        part = rows[f * per : (f + 1) * per]
        pq.write_table(
            pa.table({"doc": [r[0] for r in part], "body": [r[1] for r in part]}),
            folder / f"in-{f}.parquet",
            row_group_size=50,
        )
    return folder


def read_output(folder):
    parts = sorted(folder.glob("part-*.parquet"))
    return pa.concat_tables([pq.read_table(p) for p in parts]).to_pydict(), parts
