"""A corpus of bad inputs through the CLI: each gets a one-line error naming the file (and the
record where there is one), exit status 2, no traceback, and no partial output file."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import pytest
from cli_helpers import TINY_SETTINGS, run_mgl, write_reviews_csv

pytestmark = pytest.mark.unit

FIX = Path(__file__).resolve().parents[1] / "fixtures" / "bad_inputs"
CSV_COLUMNS = [
    "--columns",
    "text=text,label=stars,language=lang,split=split",
    "--labels",
    "1=negative,2=negative,3=neutral,4=positive,5=positive",
]


def csv_variant(tmp: Path, name: str, keep) -> Path:
    """The good 3-class CSV with only the rows ``keep(row)`` accepts."""
    good = write_reviews_csv(tmp / "good.csv")
    with open(good, encoding="utf-8") as fh:
        rows = [r for r in csv.DictReader(fh) if keep(r)]
    path = tmp / name
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=["text", "stars", "lang", "split"])
        writer.writeheader()
        writer.writerows(rows)
    return path


def webis_tree(tmp: Path, bad_review: str) -> Path:
    """A Webis-CLS-10 layout with en/books and fr/books, one file replaced by a bad one."""
    root = tmp / "cls-acl10-unprocessed"
    good = "".join(
        f"<item><rating>{r}.0</rating><summary>s{i}</summary><text>text {i}</text></item>\n"
        for i, r in enumerate([5, 1] * 5)
    )
    for lang in ("en", "fr"):
        for split in ("train", "test"):
            d = root / lang / "books"
            d.mkdir(parents=True, exist_ok=True)
            (d / f"{split}.review").write_text(f'<?xml version="1.0"?>\n<items>\n{good}</items>\n', encoding="utf-8")
    shutil.copy(FIX / bad_review, root / "fr" / "books" / "train.review")
    return root


def run_on_csv(path: Path, out: Path, *extra: str) -> list[str]:
    return [
        "run",
        "--data",
        str(path),
        *CSV_COLUMNS,
        "--sources",
        "en,de",
        "--target",
        "fr",
        "--target-fraction",
        "1.0",
        "--out",
        str(out),
        "--quiet",
        *TINY_SETTINGS,
        *extra,
    ]


def run_on_webis(root: Path, out: Path) -> list[str]:
    return [
        "run",
        "--root",
        str(root),
        "--domain",
        "books",
        "--sources",
        "en",
        "--target",
        "fr",
        "--out",
        str(out),
        "--quiet",
    ]


# (case id, builder(tmp, ctx) -> (argv, [expected substrings], output path that must not appear))
def _cases():
    c = {}

    def case(name):
        def deco(fn):
            c[name] = fn
            return fn

        return deco

    for fname, expect in [
        ("missing_text_column.csv", ["missing_text_column.csv", "text"]),
        ("missing_label_column.csv", ["missing_label_column.csv", "stars"]),
        ("unknown_label.csv", ["unknown_label.csv", "record 3", "7"]),
        ("empty_text.csv", ["empty_text.csv", "record 3"]),
        ("latin1.csv", ["latin1.csv", "record 3"]),
        ("malformed.jsonl", ["malformed.jsonl", "record 2"]),
        ("nan_label.jsonl", ["nan_label.jsonl", "record 2"]),
        ("wrong_fields.tsv", ["wrong_fields.tsv", "record 3"]),
        ("bad_language_code.csv", ["bad_language_code.csv", "record 2", "english"]),
        ("unknown_split.csv", ["unknown_split.csv", "record 2", "someday"]),
    ]:

        def build(tmp, ctx, fname=fname, expect=expect):
            return run_on_csv(FIX / fname, tmp / "out", "--encoder", ctx["tiny"]), expect, tmp / "out" / "result.json"

        c[f"data:{fname}"] = build

    for fname, expect in [
        ("truncated.review.xml", ["train.review"]),
        ("malformed.review.xml", ["train.review", "record 2"]),
        ("rating3.review.xml", ["train.review", "record 2", "3"]),
        ("no_rating.review.xml", ["train.review", "record 2"]),
        ("empty_review.review.xml", ["train.review", "record 2"]),
        ("latin1.review.xml", ["train.review"]),
        ("rating_not_number.review.xml", ["train.review", "record 1"]),
    ]:

        def build(tmp, ctx, fname=fname, expect=expect):
            return run_on_webis(webis_tree(tmp, fname), tmp / "out"), expect, tmp / "out" / "result.json"

        c[f"webis:{fname}"] = build

    @case("data:a language with fewer than N examples of a class")
    def _(tmp, ctx):
        seen = {"n": 0}

        def keep(r):
            if r["lang"] == "de" and r["split"] == "train" and r["stars"] in ("1", "2"):
                seen["n"] += 1
                return seen["n"] <= 1
            return True

        path = csv_variant(tmp, "few_de_negatives.csv", keep)
        return (
            run_on_csv(path, tmp / "out", "--encoder", ctx["tiny"]),
            ["few_de_negatives.csv", "'de'", "negative", "N = 2"],
            tmp / "out" / "result.json",
        )

    @case("data:the target has no validation split and carving is off")
    def _(tmp, ctx):
        path = csv_variant(
            tmp, "no_fr_validation.csv", lambda r: not (r["lang"] == "fr" and r["split"] == "validation")
        )
        return (
            run_on_csv(path, tmp / "out", "--encoder", ctx["tiny"], "--validation-fraction", "0"),
            ["no_fr_validation.csv", "'fr'", "validation"],
            tmp / "out" / "result.json",
        )

    @case("data:the target has no test split (mgl run reports test metrics)")
    def _(tmp, ctx):
        path = csv_variant(tmp, "no_fr_test.csv", lambda r: not (r["lang"] == "fr" and r["split"] == "test"))
        return (
            run_on_csv(path, tmp / "out", "--encoder", ctx["tiny"]),
            ["no_fr_test.csv", "'fr'", "test", "mgl train"],
            tmp / "out" / "result.json",
        )

    @case("path:data file does not exist")
    def _(tmp, ctx):
        return run_on_csv(tmp / "nope.csv", tmp / "out"), ["nope.csv"], tmp / "out" / "result.json"

    @case("path:webis root does not exist")
    def _(tmp, ctx):
        return run_on_webis(tmp / "no_such_root", tmp / "out"), ["no_such_root"], tmp / "out" / "result.json"

    @case("path:encoder directory does not exist")
    def _(tmp, ctx):
        return (
            run_on_csv(ctx["csv"], tmp / "out", "--encoder", str(tmp / "no_encoder")),
            ["no_encoder"],
            tmp / "out" / "result.json",
        )

    for fname, expect in [
        ("bad_yaml.yaml", ["bad_yaml.yaml"]),
        ("unknown_setting.yaml", ["unknown_setting.yaml", "no_such_setting"]),
        ("wrong_type.yaml", ["wrong_type.yaml", "n_query"]),
    ]:

        def build(tmp, ctx, fname=fname, expect=expect):
            return (
                run_on_csv(ctx["csv"], tmp / "out", "--config", str(FIX / fname)),
                expect,
                tmp / "out" / "result.json",
            )

        c[f"config:{fname}"] = build

    @case("config:file does not exist")
    def _(tmp, ctx):
        return (
            run_on_csv(ctx["csv"], tmp / "out", "--config", str(tmp / "none.yaml")),
            ["none.yaml"],
            tmp / "out" / "result.json",
        )

    @case("config:target fraction out of range")
    def _(tmp, ctx):
        return (
            run_on_csv(ctx["csv"], tmp / "out", "--target-fraction", "1.5"),
            ["target_fraction"],
            tmp / "out" / "result.json",
        )

    @case("config:a bad --set value")
    def _(tmp, ctx):
        return (
            run_on_csv(ctx["csv"], tmp / "out", "--set", "mgl.n_query=lots"),
            ["n_query"],
            tmp / "out" / "result.json",
        )

    def predict(tmp, ctx, model, inp):
        return ["predict", "--model", str(model), "--input", str(inp), "--output", str(tmp / "pred.jsonl"), "--quiet"]

    for fname, expect in [
        ("predict_empty.txt", ["predict_empty.txt"]),
        ("predict_malformed.jsonl", ["predict_malformed.jsonl", "record 2"]),
        ("predict_missing_text.csv", ["predict_missing_text.csv", "text"]),
        ("predict_latin1.txt", ["predict_latin1.txt", "record 1"]),
        ("predict_unknown_suffix.xyz", ["predict_unknown_suffix.xyz"]),
        ("predict_empty_text.jsonl", ["predict_empty_text.jsonl", "record 1"]),
        ("predict_number_text.jsonl", ["predict_number_text.jsonl", "record 1"]),
    ]:

        def build(tmp, ctx, fname=fname, expect=expect):
            return predict(tmp, ctx, ctx["model"], FIX / fname), expect, tmp / "pred.jsonl"

        c[f"predict:{fname}"] = build

    @case("predict:an oversized text")
    def _(tmp, ctx):
        path = tmp / "huge.txt"
        path.write_text("ok text\n" + "word " * 30_000 + "\n", encoding="utf-8")
        return predict(tmp, ctx, ctx["model"], path), ["huge.txt", "record 2"], tmp / "pred.jsonl"

    # one text-length limit on every path, named as a length limit (issue 41)
    def long_csv(tmp: Path, chars: int) -> Path:
        rows = list(csv.DictReader(ctx_csv_lines(tmp)))
        rows[1]["text"] = "a" * chars
        path = tmp / "long.csv"
        with open(path, "w", newline="", encoding="utf-8") as fh:
            writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(rows)
        return path

    for chars in (150_000, 200_000):  # under and over csv's own 131,072-character field limit

        @case(f"data:a {chars:,}-character text in training")
        def _(tmp, ctx, chars=chars):
            path = long_csv(tmp, chars)
            return (
                run_on_csv(path, tmp / "out", "--encoder", ctx["tiny"]),
                ["long.csv", "record 3", f"{chars:,} characters long", "limit of 100,000 characters"],
                tmp / "out" / "result.json",
            )

        @case(f"predict:a {chars:,}-character text")
        def _(tmp, ctx, chars=chars):
            path = tmp / "long.jsonl"
            path.write_text(json.dumps({"text": "ok"}) + "\n" + json.dumps({"text": "b" * chars}) + "\n")
            return (
                predict(tmp, ctx, ctx["model"], path),
                ["long.jsonl", "record 2", f"{chars:,} characters long", "limit of 100,000 characters"],
                tmp / "pred.jsonl",
            )

    @case("predict:--output DIR/ with a text file")
    def _(tmp, ctx):
        path = tmp / "in.txt"
        path.write_text("good book\n", encoding="utf-8")
        argv = ["predict", "--model", str(ctx["model"]), "--input", str(path), "--output", f"{tmp / 'pdir'}/"]
        return argv, ["pdir", "names a folder"], tmp / "pdir"

    @case("predict:--encoding for a folder of inputs")
    def _(tmp, ctx):
        folder = tmp / "corpus"
        folder.mkdir()
        (folder / "a.csv").write_text("text\ngood\n", encoding="utf-8")
        argv = ["predict", "--model", str(ctx["model"]), "--input", str(folder), "--output", str(tmp / "pout")]
        return [*argv, "--encoding", "latin-1"], ["--encoding applies to one input file"], tmp / "pout"

    @case("config:a configuration file holding a list")
    def _(tmp, ctx):
        path = tmp / "list.yaml"
        path.write_text("[]\n", encoding="utf-8")
        return (
            run_on_csv(ctx["csv"], tmp / "out", "--config", str(path)),
            ["list.yaml", "must be a mapping of sections, got list"],
            tmp / "out",
        )

    @case("predict:input file does not exist")
    def _(tmp, ctx):
        return predict(tmp, ctx, ctx["model"], tmp / "missing.txt"), ["missing.txt"], tmp / "pred.jsonl"

    def broken_model(tmp, ctx, mutate) -> Path:
        model = tmp / "model"
        shutil.copytree(ctx["model"], model)
        mutate(model)
        return model

    def resum(model: Path) -> None:
        import hashlib

        sums = json.loads((model / "checksums.json").read_text())
        for name in sums:
            sums[name] = hashlib.sha256((model / name).read_bytes()).hexdigest()
        (model / "checksums.json").write_text(json.dumps(sums))

    def set_embedding(model: Path, value: float) -> None:
        from safetensors.torch import load_file, save_file

        emb = load_file(str(model / "example_embeddings.safetensors"))["embeddings"]
        emb[3, 0] = value
        save_file({"embeddings": emb}, str(model / "example_embeddings.safetensors"))
        resum(model)

    def set_head_tensor(model: Path, value: float) -> None:
        from safetensors.torch import load_file, save_file

        tensors = load_file(str(model / "head.safetensors"))
        name = next(k for k, v in sorted(tensors.items()) if v.is_floating_point() and v.numel() > 1)
        tensors[name].view(-1)[1] = value
        save_file(tensors, str(model / "head.safetensors"))

    def set_temperature(model: Path, value: float) -> None:
        meta = json.loads((model / "mgl_model.json").read_text())
        meta["temperature"] = value
        (model / "mgl_model.json").write_text(json.dumps(meta))

    def link_out(model: Path, name: str) -> None:
        outside = model.parent / f"outside-{name}"
        shutil.move(model / name, outside)
        (model / name).symlink_to(Path("..") / outside.name)

    model_cases = {
        "model:directory does not exist": (lambda m: shutil.rmtree(m), ["model"]),
        "model:missing weights file": (lambda m: (m / "head.safetensors").unlink(), ["head.safetensors"]),
        "model:corrupted weights file": (
            lambda m: (m / "head.safetensors").write_bytes((m / "head.safetensors").read_bytes()[:-100] + b"x" * 100),
            ["head.safetensors", "corrupted"],
        ),
        "model:corrupted checksums": (lambda m: (m / "checksums.json").write_text("{not json"), ["checksums.json"]),
        "model:truncated support bank": (
            lambda m: (m / "examples.jsonl").write_bytes((m / "examples.jsonl").read_bytes()[:200]),
            ["examples.jsonl"],
        ),
        "model:weights that do not fit (checksums updated)": (lambda m: (_swap_weights(m), resum(m)), ["model"]),
        "embeddings:NaN in the labelled examples' embeddings": (
            lambda m: set_embedding(m, float("nan")),
            ["example_embeddings.safetensors", "record 4", "NaN"],
        ),
        "model:NaN head weights (checksums updated)": (
            lambda m: (set_head_tensor(m, float("nan")), resum(m)),
            ["head.safetensors", "holds NaN or infinite values", "tensor"],
        ),
        "model:infinite head weights (checksums updated)": (
            lambda m: (set_head_tensor(m, float("-inf")), resum(m)),
            ["head.safetensors", "holds NaN or infinite values"],
        ),
        "model:a NaN temperature (checksums updated)": (
            lambda m: (set_temperature(m, float("nan")), resum(m)),
            ["mgl_model.json", "temperature nan"],
        ),
        "model:a file linked out of the folder (checksums hold)": (
            lambda m: link_out(m, "examples.jsonl"),
            ["examples.jsonl", "outside the model folder"],
        ),
        "embeddings:infinite labelled example embedding": (
            lambda m: set_embedding(m, float("inf")),
            ["example_embeddings.safetensors", "record 4"],
        ),
    }
    for name, (mutate, expect) in model_cases.items():

        def build(tmp, ctx, mutate=mutate, expect=expect):
            model = broken_model(tmp, ctx, mutate)
            good_input = tmp / "input.txt"
            good_input.write_text("very good book\nbad book\n", encoding="utf-8")
            return predict(tmp, ctx, model, good_input), expect, tmp / "pred.jsonl"

        c[name] = build
    return c


def ctx_csv_lines(tmp: Path) -> list[str]:
    """The lines of a fresh copy of the synthetic reviews CSV."""
    return write_reviews_csv(tmp / "reviews.csv").read_text(encoding="utf-8").splitlines()


def _swap_weights(model: Path) -> None:
    from safetensors.torch import save_file

    save_file({"something": __import__("torch").zeros(3)}, str(model / "head.safetensors"))


CASES = _cases()


def test_the_corpus_is_large_enough():
    assert len(CASES) >= 30


@pytest.fixture(scope="module")
def ctx(tmp_path_factory, tiny_model, tiny_bert_dir):
    csv_path = write_reviews_csv(tmp_path_factory.mktemp("good") / "good.csv")
    return {"model": tiny_model, "tiny": str(tiny_bert_dir), "csv": csv_path}


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_input_is_a_one_line_error(case, tmp_path, ctx):
    argv, expect, output = CASES[case](tmp_path, ctx)
    code, _out, err = run_mgl(*argv)
    lines = [line for line in err.strip().splitlines() if line.strip()]
    assert code == 2, f"{case}: exit {code}\n{err}"
    assert "Traceback" not in err
    assert len(lines) == 1, f"{case}: not one line:\n{err}"
    for piece in expect:
        assert piece in lines[0], f"{case}: {piece!r} not in {lines[0]!r}"
    assert not output.exists(), f"{case}: partial output {output}"
