"""Re-derive committed grids' ensemble cells through the one fit-and-score path, and compare bit for bit.

For each grid folder, every committed cell of an ensemble row (a derived ``ensemble[a+b+...]`` row,
and the grid's own ``ensemble`` row) is computed again from its members' stored cells: an
:class:`mgl.methods.Ensemble` of :class:`mgl.methods.Recorded` members fitted and scored by
:func:`mgl.methods.fit_and_score` (:func:`mgl.grid.derived_ensembles.derive_ensemble`), into a
scratch copy of the grid (the committed folder is only read). Then, per cell:

* ``probabilities``: the stored float32 validation and test probabilities, equal bit for bit;
* ``metrics``: accuracy, precision, recall, F1, validation accuracy and each member's accuracy, equal
  exactly (``==`` on the floats as stored in JSON).

A derived row was computed from the members' stored (float32) probabilities, so it must come back
bit for bit. The grid's own ``ensemble`` row was averaged, when the grid ran, from the members'
float64 probabilities before they were stored: its probabilities may differ in the last float32
bit, which is reported (``max_abs_difference``) beside whether its metrics come back exactly.

    MGL_DATA=../shared/data python benchmarks/rederive_ensembles.py \\
        docs/results/raw/table1-ensemble docs/results/raw/sib200 --out docs/results/raw/rederive_ensembles.json
"""

from __future__ import annotations

import argparse
import glob
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

from _common import claim_out, require_mgl_data, write_out
from compare_grids import load, same_cell


def rederive(folder: Path) -> dict:
    from mgl.config import RunConfig
    from mgl.grid import CellStore, Experiment
    from mgl.grid.derived_ensembles import derive_ensemble, ensemble_name

    meta = json.loads((folder / "grid.json").read_text(encoding="utf-8"))
    experiments = [Experiment(e["target"], e["domain"], tuple(e["sources"])) for e in meta["experiments"]]
    cfg = RunConfig.from_dict(meta["config"], source=str(folder / "grid.json"))
    cells = folder / "cells"
    rows: dict[str, list[str]] = {}  # committed row -> its members
    for path in sorted(cells.glob("*.json")):
        record = json.loads(path.read_text(encoding="utf-8"))
        method = record["method"]
        if method == "ensemble" or method.startswith("ensemble["):
            members = record.get("derived_from") or record.get("details", {}).get("members")
            rows.setdefault(path.name.split("__")[0], members)
    out = {}
    for row, members in rows.items():
        with tempfile.TemporaryDirectory() as tmp:
            scratch = Path(tmp) / folder.name
            shutil.copytree(folder, scratch)
            store = CellStore(scratch, meta["fingerprint"])
            t0 = time.perf_counter()
            _, _, missing = derive_ensemble(store, cfg, experiments, meta["seeds"], members)
            seconds = time.perf_counter() - t0
            checks = []
            for path in sorted(cells.glob(glob.escape(row) + "__*.json")):
                new_path = scratch / "cells" / path.name.replace(row, ensemble_name(members), 1)
                if not new_path.exists():
                    checks.append({"cell": path.name, "missing": True})
                    continue
                old, old_p = load(cells, path.name)
                new, new_p = load(new_path.parent, new_path.name)
                checks.append({"cell": path.name, **same_cell(old, new, old_p, new_p)})
        out[row] = {
            "members": members,
            "cells": len(checks),
            "left_out": len(missing),
            "metrics_identical": sum(bool(c.get("metrics")) for c in checks),
            "probabilities_identical": sum(bool(c.get("probabilities")) for c in checks),
            "max_abs_difference": max((c.get("max_abs_difference") or 0.0 for c in checks), default=0.0),
            "differing": [c for c in checks if not (c.get("metrics") and c.get("probabilities"))][:20],
            "seconds": round(seconds, 1),
        }
        print(f"{folder.name} {row}: {json.dumps({k: v for k, v in out[row].items() if k != 'differing'})}")
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folders", nargs="+", type=Path)
    parser.add_argument("--out", default="benchmarks/out/rederive_ensembles.json")
    args = parser.parse_args(argv)
    if require_mgl_data("rederive_ensembles") is None:
        return 2
    claim_out(args.out)
    from mgl.provenance import machine_info

    result = {"command": "python benchmarks/rederive_ensembles.py " + " ".join(map(str, args.folders))}
    result["grids"] = {str(f): rederive(f) for f in args.folders}
    result["machine"] = machine_info()
    write_out(args.out, result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
