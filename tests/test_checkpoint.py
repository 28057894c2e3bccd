"""Checkpoints: never resumed on other settings or changed data, and read without running code."""

from __future__ import annotations

import os
import pickle

import pytest
import torch

from mgl.config import RunConfig, load_config
from mgl.data.examples import Example
from mgl.errors import MGLError
from mgl.model.checkpoint import Checkpointer, data_fingerprint

pytestmark = pytest.mark.unit


def examples(label_of_third: str = "neg") -> list[Example]:
    rows = [("good book", "pos"), ("bad book", "neg"), ("so-so", label_of_third)]
    return [
        Example(text=t, label=y, language="en", split="train", uid=f"f.csv#{i}") for i, (t, y) in enumerate(rows, 1)
    ]


def state() -> dict:
    return {
        "trainee": {"model": {"w": torch.ones(2, 2)}, "numpy_rng": {"state": {"state": 2**100, "inc": 3}}},
        "reports": [{"rounds": 2, "history": [{"round": 1, "val_accuracy": 0.5}]}],
    }


def test_a_checkpoint_resumes_on_the_same_data_and_settings(tmp_path):
    path = tmp_path / "checkpoint.pt"
    Checkpointer(path, RunConfig(), examples()).save("meta-train", state())
    stages = Checkpointer(path, RunConfig(), examples()).load()
    assert torch.equal(stages["meta-train"]["trainee"]["model"]["w"], torch.ones(2, 2))
    assert stages["meta-train"]["trainee"]["numpy_rng"]["state"]["state"] == 2**100


@pytest.mark.parametrize("change", ["label", "text", "uid", "order", "one more"])
def test_resume_on_changed_data_is_refused_by_name(tmp_path, change):
    path = tmp_path / "checkpoint.pt"
    Checkpointer(path, RunConfig(), examples()).save("meta-train", state())
    data = examples()
    if change == "label":
        data = examples(label_of_third="pos")
    elif change == "text":
        data[0] = Example(text="good book!", label="pos", language="en", split="train", uid=data[0].uid)
    elif change == "uid":
        data[0] = Example(text="good book", label="pos", language="en", split="train", uid="other#1")
    elif change == "order":
        data = data[::-1]
    else:
        data.append(Example(text="new", label="pos", language="en", split="train", uid="f.csv#4"))
    assert data_fingerprint(data) != data_fingerprint(examples())
    with pytest.raises(MGLError, match="cannot --resume: the data changed"):
        Checkpointer(path, RunConfig(), data).load()


def test_resume_under_other_settings_is_refused(tmp_path):
    path = tmp_path / "checkpoint.pt"
    Checkpointer(path, RunConfig(), examples()).save("meta-train", state())
    with pytest.raises(MGLError, match="different configuration"):
        Checkpointer(path, load_config(None, None, ["mgl.lr=0.5"]), examples()).load()
    with pytest.raises(MGLError, match="different configuration"):  # the prefix as it runs, not as written
        Checkpointer(path, load_config(None, None, ["encoder.prefix='other: '"]), examples()).load()


class _Payload:
    def __reduce__(self):
        return (os.system, ("touch PWNED",))


def test_a_checkpoint_that_would_run_code_is_refused_without_running_it(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "checkpoint.pt"
    with open(path, "wb") as fh:
        torch.save({"fingerprint": "x", "stages": {"meta-train": _Payload()}}, fh, pickle_module=pickle)
    with pytest.raises(MGLError, match="cannot read the checkpoint"):
        Checkpointer(path, RunConfig(), examples()).load()
    assert not (tmp_path / "PWNED").exists()
