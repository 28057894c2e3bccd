"""Write a review file as a user would bring it, from Webis-CLS-10 books (issue: own data as it comes).

EN, DE and FR: 100 reviews per label, ``train`` rows only (no validation, no test); JA: 80 per
label ``train`` and 200 per label ``test``, no validation rows. Reviews are taken in the corpus'
order from its published training files (EN/DE/FR/JA ``train.review``) and JA's ``test.review``.
Writes the same rows as UTF-8 CSV, UTF-16 CSV (with its byte-order mark, as Excel saves
"Unicode text") and Parquet::

    python examples/user_file.py --out runs/userfile        # needs MGL_DATA
    mgl data stats runs/userfile/reviews.csv --columns text=text,label=label,language=language,split=split
    mgl run --data runs/userfile/reviews.csv --columns text=text,label=label,language=language,split=split \\
        --sources en,de,fr --target ja --target-fraction 1.0 --out runs/userfile/run
    mgl experiment compare --data runs/userfile/reviews.csv \\
        --columns text=text,label=label,language=language,split=split \\
        --languages en,de,fr,ja --targets ja --seeds 3 --out runs/userfile/compare
"""

from __future__ import annotations

import argparse
import csv
import io
import os
import sys
from pathlib import Path

PER_LABEL = {"en": ("train", 100), "de": ("train", 100), "fr": ("train", 100)}


def rows_from_webis(root: Path) -> list[dict]:
    from mgl.data.registry import load_dataset

    examples = load_dataset("webis-cls-10", root=root, languages=["en", "de", "fr", "ja"], domains=["books"])
    picked: list[dict] = []
    taken: dict[tuple, int] = {}

    def take(ex, split: str, limit: int) -> None:
        key = (ex.language, split, ex.label)
        if taken.get(key, 0) < limit:
            taken[key] = taken.get(key, 0) + 1
            picked.append({"text": ex.text, "label": ex.label, "language": ex.language, "split": split})

    for ex in examples:
        if ex.language in PER_LABEL and ex.split in ("train", "validation"):
            take(ex, "train", PER_LABEL[ex.language][1])
        elif ex.language == "ja" and ex.split in ("train", "validation"):
            take(ex, "train", 80)
        elif ex.language == "ja" and ex.split == "test":
            take(ex, "test", 200)
    return picked


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="runs/userfile", help="Folder for reviews.csv, reviews-utf16.csv, reviews.parquet.")
    args = parser.parse_args()
    data = os.environ.get("MGL_DATA")
    if not data:
        print("user_file.py: MGL_DATA is unset (the folder holding cls-acl10-unprocessed/)", file=sys.stderr)
        return 2
    rows = rows_from_webis(Path(data) / "cls-acl10-unprocessed")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=["text", "label", "language", "split"], lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    (out / "reviews.csv").write_text(buffer.getvalue(), encoding="utf-8")
    (out / "reviews-utf16.csv").write_bytes(buffer.getvalue().encode("utf-16"))  # with its byte-order mark
    import pyarrow as pa
    import pyarrow.parquet as pq

    pq.write_table(pa.Table.from_pylist(rows), out / "reviews.parquet")
    print(f"wrote {len(rows)} rows to {out}/reviews.csv, reviews-utf16.csv, reviews.parquet")
    return 0


if __name__ == "__main__":
    sys.exit(main())
