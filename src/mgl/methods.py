"""The names of the methods the experiment grids run, in their tables' row order.

Kept free of imports so that the command line can show them as its defaults without loading
the grid machinery; :mod:`mgl.grid` re-exports them.
"""

from __future__ import annotations

PAPER_METHODS = ("target-only", "mix", "multi-task", "fine-tune", "reptile", "mgl")
"""The rows of the paper's Table 1 and Table 2."""
REFERENCE_METHODS = ("logreg-target", "logreg-pooled")
"""Logistic regressions on the frozen embeddings (the target's labels; all languages' pooled), in every table."""
ABLATION_METHODS = ("mgl", "mgl-no-meta", "mgl-no-l2clt", "mgl-no-sigma", "mgl-gcn1", "mgl-gcn3", "mgl-gcn4")
"""The rows of the paper's Table 3: the full model, then its ablations."""
PROPORTION_METHODS = ("mgl", "reptile", "mix", "multi-task", "fine-tune", "logreg-pooled")
"""The lines of the paper's Fig. 5, plus the pooled logistic-regression reference every table carries."""
