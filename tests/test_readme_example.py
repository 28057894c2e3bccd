"""The README's Python example runs as written (on real data; skipped where MGL_DATA is unset)."""

import os
import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"


def readme_example() -> str:
    text = README.read_text(encoding="utf-8")
    block = re.search(r"<!-- readme-example:start -->\s*```python\n(.*?)```\s*<!-- readme-example:end -->", text, re.S)
    assert block, "README lost its example block"
    return block.group(1)


def test_readme_has_the_example():
    code = readme_example()
    assert "Classifier" in code and ".fit(" in code and ".predict(" in code and ".save_pretrained(" in code


@pytest.mark.integration
@pytest.mark.skipif(not os.environ.get("MGL_DATA"), reason="MGL_DATA is unset: the example trains on Webis-CLS-10")
def test_readme_example_runs(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    exec(compile(readme_example(), "README.md", "exec"), {})
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "ensemble ['positive', 'negative']"  # the default method; two unmistakable reviews
    assert out[-1] == "['negative']"  # the same answer from the reloaded model
    assert len(out) == 5 and all(line.split()[0] in ("en", "fr", "de", "ja") for line in out[2:4])  # neighbours
    assert (tmp_path / "models" / "demo" / "head.safetensors").exists()
