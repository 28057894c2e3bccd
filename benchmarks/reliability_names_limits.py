"""Issue 41's hostile-user cases, re-run against the CLI and the service: one language under one
name, no NaN in an answer, one text-length limit, and the smaller items.

Builds a Webis-CLS-10 books CSV (EN, FR, DE, JA) in a work folder whose rows spell languages with
regions (``fr-FR``, ``en-US``), trains the pooled logistic regression on it with the embedded e5,
then runs each case as a user types it and records the exit status, the message and what was
written. Writes ``--out`` (JSON) and prints a Markdown table (docs/results/reliability.md).

    export MGL_DATA=../shared/data
    python benchmarks/reliability_names_limits.py --work /tmp/mgl-rel41 \
        --out docs/results/raw/reliability-names-limits.json
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import os
import shutil
import socket
import subprocess
import time
from pathlib import Path

from _common import claim_out, require_mgl_data, write_out
from reliability import last_line, mgl, start_server, write_books_csv

COLUMNS = "text=text,label=label,language=language,split=split"


def case(name: str, done, expect: str, **extra) -> dict:
    """One row: what ran, its exit status and its last line of output."""
    message = last_line(done.stderr) or last_line(done.stdout)
    return {"case": name, "exit": done.returncode, "message": message[:400], "expect": expect, **extra}


def resum(model: Path) -> None:
    sums = json.loads((model / "checksums.json").read_text())
    for name in sums:
        sums[name] = hashlib.sha256((model / name).read_bytes()).hexdigest()
    (model / "checksums.json").write_text(json.dumps(sums))


def regional_csv(books: Path, path: Path) -> dict[str, int]:
    """The books CSV with every other FR row spelled fr-FR and every other EN row en-US, plus 3 ES rows."""
    rows = list(csv.DictReader(books.open(encoding="utf-8")))
    for i, row in enumerate(rows):
        if i % 2 and row["language"] in ("fr", "en"):
            row["language"] = {"fr": "fr-FR", "en": "en-US"}[row["language"]]
    rows += [{"text": "un libro muy bueno", "label": "positive", "language": "es", "split": "train"}] * 3
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=["text", "label", "language", "split"])
        writer.writeheader()
        writer.writerows(rows)
    return {
        "fr_test": sum(r["language"] in ("fr", "fr-FR") and r["split"] == "test" for r in rows),
        "fr_FR_test": sum(r["language"] == "fr-FR" and r["split"] == "test" for r in rows),
    }


def raw_request(port: int, request: bytes) -> tuple[str, str, str]:
    """(status line, content type, body) of one raw HTTP request."""
    with socket.create_connection(("127.0.0.1", port), timeout=60) as conn:
        conn.sendall(request)
        answer = b""
        while chunk := conn.recv(65536):
            answer += chunk
    head, _, body = answer.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    ctype = next((h.split(":", 1)[1].strip() for h in lines if h.lower().startswith("content-type")), "")
    return lines[0], ctype, body.decode("utf-8", "replace")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, required=True, help="A scratch folder (created; must not exist).")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--per-class", type=int, default=20)
    args = parser.parse_args(argv)
    data = require_mgl_data("reliability_names_limits.py")
    if data is None:
        return 2
    out = claim_out(args.out)
    work = args.work
    work.mkdir(parents=True)
    from mgl.paths import mgl_home

    os.environ["MGL_HOME"] = str(mgl_home())  # the prepared encoder and the cache stay where they are
    env_home = os.environ.get("HOME")
    os.environ["HOME"] = str(work / "home")  # '~' cases resolve inside the work folder
    (work / "home").mkdir()
    rows: list[dict] = []
    started = time.time()
    try:
        books = work / "books.csv"
        write_books_csv(data, books, args.per_class)

        # -- one language, one name --------------------------------------------------------
        korean = work / "korean.csv"
        codes = ["ko"] * 12 + ["kor"] * 4 + ["ko-Hang"] * 3 + ["ko-KR"] * 5 + ["acm"] * 2 + ["acm-Arab"] * 2
        korean.write_text(
            "text,label,language\n" + "".join(f"t{i},x,{c}\n" for i, c in enumerate(codes)), encoding="utf-8"
        )
        done = mgl("data", "stats", korean, "--json")
        counts = {r["language"]: r["count"] for r in json.loads(done.stdout)} if done.returncode == 0 else {}
        rows.append(
            case("`mgl data stats` on ko/kor/ko-Hang/ko-KR/acm/acm-Arab rows", done, "ko 24, acm 4", counts=counts)
        )

        regional = work / "regional.csv"
        sizes = regional_csv(books, regional)
        run = work / "run-regions"
        model = work / "home" / "m"
        done = mgl(
            "train", "--data", regional, "--columns", COLUMNS, "--sources", "en,de", "--target", "fr",
            "--method", "logreg-pooled", "--out", run, "--save", "~/m", "--quiet", "--seed", "0",
        )  # fmt: skip
        result = json.loads((run / "result.json").read_text()) if done.returncode == 0 else {}
        notes = [line for line in done.stderr.splitlines() if "spellings" in line or "not used" in line]
        rows.append(
            case(
                "`mgl train --sources en,de --target fr --save '~/m'` on fr + fr-FR, en + en-US, es rows",
                done,
                f"all {sizes['fr_test']} fr test rows scored; notices name the folding and es",
                n_test=result.get("n_test"),
                fr_test_rows=sizes["fr_test"],
                notices=notes,
                saved_line=last_line(done.stdout),
            )
        )
        for spelling in ("kor", "ko", "acm", "pbt", "azb", "ajp", "crh", "ko-KR"):
            done = mgl("data", "stats", "sib-200", "--root", data / "sib-200", "--languages", spelling, "--json")
            langs = sorted({r["language"] for r in json.loads(done.stdout)}) if done.returncode == 0 else []
            n = sum(r["count"] for r in json.loads(done.stdout)) if done.returncode == 0 else 0
            row = case(f"`--data sib-200 --languages {spelling}`", done, "its one folder", languages=langs)
            if done.returncode == 0:
                row["message"] = f"{n} examples, language {', '.join(langs)}"
            rows.append(row)

        # -- no NaN in an answer ----------------------------------------------------------
        text_in = work / "one.txt"
        text_in.write_text("Un livre magnifique, je le recommande.\n", encoding="utf-8")
        nan_model = work / "nan-model"
        shutil.copytree(model, nan_model)
        from safetensors.torch import load_file, save_file

        tensors = load_file(str(nan_model / "head.safetensors"))
        name = next(k for k, v in sorted(tensors.items()) if v.is_floating_point() and v.numel() > 1)
        tensors[name].view(-1)[:] = float("nan")
        save_file(tensors, str(nan_model / "head.safetensors"))
        resum(nan_model)
        done = mgl("predict", "--model", nan_model, "--input", text_in, "--output", work / "nan.jsonl", "--quiet")
        rows.append(
            case(
                "`mgl predict` with NaN head weights (checksums recomputed)",
                done,
                "exit 2 naming the file and tensor",
                output_written=(work / "nan.jsonl").exists(),
            )
        )
        try:
            done = mgl("serve", "--model", nan_model, "--port", "0", timeout=180)
            rows.append(case("`mgl serve` of the same model", done, "exit 2 at load"))
        except subprocess.TimeoutExpired:
            rows.append({"case": "`mgl serve` of the same model", "exit": None, "message": "served (no refusal)"})

        # -- one text-length limit ----------------------------------------------------------
        for chars in (150_000, 200_000):
            long_csv = work / f"long{chars}.csv"
            rows_in = list(csv.DictReader(books.open(encoding="utf-8")))
            rows_in[0]["text"] = "a" * chars
            with long_csv.open("w", newline="", encoding="utf-8") as fh:
                writer = csv.DictWriter(fh, fieldnames=list(rows_in[0]))
                writer.writeheader()
                writer.writerows(rows_in)
            for verb in ("validate", "stats"):
                done = mgl("data", verb, long_csv, "--columns", COLUMNS)
                rows.append(case(f"`mgl data {verb}`, a {chars:,}-character text", done, "exit 2, the limit"))
            done = mgl(
                "train", "--data", long_csv, "--columns", COLUMNS, "--sources", "en,fr,de", "--target", "ja",
                "--method", "logreg-pooled", "--out", work / f"run-long{chars}", "--quiet",
            )  # fmt: skip
            rows.append(case(f"`mgl train`, a {chars:,}-character text", done, "exit 2, the limit"))
            predict_in = work / f"long{chars}.jsonl"
            predict_in.write_text(json.dumps({"text": "ok"}) + "\n" + json.dumps({"text": "b" * chars}) + "\n")
            done = mgl("predict", "--model", model, "--input", predict_in, "--output", work / "long.jsonl")
            rows.append(case(f"`mgl predict`, a {chars:,}-character text", done, "exit 2, the same limit"))

        # -- the smaller items ----------------------------------------------------------
        utf16 = work / "utf16.txt"
        utf16.write_bytes("Un livre magnifique.\nNul.\n".encode("utf-16-le"))
        done = mgl("predict", "--model", model, "--input", utf16, "--output", work / "u.jsonl", "--quiet")
        rows.append(case("`mgl predict` on UTF-16 without a BOM", done, "names --encoding utf-16-le"))
        done = mgl(
            "predict", "--model", model, "--input", utf16, "--output", work / "u.jsonl", "--quiet",
            "--encoding", "utf-16-le",
        )  # fmt: skip
        rows.append(case("... with `--encoding utf-16-le`", done, "exit 0, 2 predictions"))
        done = mgl("plot", "reliability", "--model", "~/m", "--out", work / "rel.png")
        rows.append(case("`mgl plot reliability --model '~/m'`", done, "exit 0", png=(work / "rel.png").is_file()))
        linked = work / "linked-model"
        shutil.copytree(model, linked)
        shutil.move(linked / "examples.jsonl", work / "outside.jsonl")
        (linked / "examples.jsonl").symlink_to(Path("..") / "outside.jsonl")
        done = mgl("predict", "--model", linked, "--input", text_in, "--output", work / "l.jsonl", "--quiet")
        rows.append(case("a model whose `examples.jsonl` links out of its folder", done, "exit 2"))
        as_list = work / "list.yaml"
        as_list.write_text("[]\n")
        done = mgl(
            "train", "--data", books, "--columns", COLUMNS, "--sources", "en,fr,de", "--target", "ja",
            "--config", as_list, "--out", work / "run-list", "--quiet",
        )  # fmt: skip
        rows.append(case("`--config` holding `[]`", done, "exit 2"))
        done = mgl("predict", "--model", model, "--input", text_in, "--output", f"{work / 'pdir'}/", "--quiet")
        rows.append(
            case("`--output pdir/` with a .txt input", done, "exit 2, nothing written", wrote=(work / "pdir").exists())
        )
        proc, client = start_server(model, work / "serve.log")
        try:
            for label, request in [
                ("no Host header (`curl -H 'Host:'`)", b"GET /health HTTP/1.1\r\n\r\n"),
                ("an empty Host header", b"GET /health HTTP/1.1\r\nHost:\r\n\r\n"),
            ]:
                status, ctype, body = raw_request(client.port, request + b"")
                rows.append(
                    {"case": f"`mgl serve`: {label}", "exit": None, "message": f"{status}; {ctype}; {body[:200]}"}
                )
        finally:
            proc.terminate()
            proc.wait(timeout=60)
    finally:
        if env_home is not None:
            os.environ["HOME"] = env_home
    result = {"cases": rows, "seconds": round(time.time() - started, 1), "per_class": args.per_class}
    write_out(out, result)
    print("| case | exit | what mgl said |\n|---|---|---|")
    for row in rows:
        message = row["message"].replace("|", "\\|")
        print(f"| {row['case']} | {row['exit'] if row['exit'] is not None else '-'} | {message} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
