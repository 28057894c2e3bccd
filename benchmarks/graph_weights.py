"""Where a trained MGL's query nodes take their graph weight from: themselves, support nodes, other queries.

Trains MGL (preset ``amazon``, frozen embedded e5) on EN+FR+DE -> JA books for one seed, then,
over test episodes, averages each query row of the normalised adjacency A~ split into its
self-loop, its support columns and its other-query columns, and reports the learned sigma
(eq. 1). Writes JSON and prints a table.

    MGL_DATA=../shared/data python benchmarks/graph_weights.py --seed 0
"""

from __future__ import annotations

import argparse
import sys

import numpy as np
import torch

from _common import add_common_options, claim_out, fit_and_measure, mgl_test_sampler, require_mgl_data, write_out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--batches", type=int, default=10, help="Test batches of R queries.")
    add_common_options(parser, "benchmarks/out/graph_weights.json", quiet=False)
    args = parser.parse_args(argv)
    claim_out(args.out)
    data_root = require_mgl_data("graph_weights")
    if data_root is None:
        return 2
    from mgl.config import load_config
    from mgl.data.preparation import prepare_data
    from mgl.encoders.featurizer import build_features, make_encoder
    from mgl.methods.mgl.queries import plan_episodes

    root = data_root / "cls-acl10-unprocessed"
    cfg = load_config("amazon", None, [f"data.root={root}", "data.domain=books", *args.overrides]).validate()
    data = prepare_data(cfg.data, args.seed)
    encoder = make_encoder(cfg.encoder)
    features, _ = build_features(data, cfg.encoder, encoder=encoder, progress=False)
    metrics, fitted = fit_and_measure("mgl", data, features, cfg, seed=args.seed)
    model = fitted.head_.model
    test = data.table.rows(languages=data.target, split="test")[: args.batches * cfg.mgl.n_query]
    plan = plan_episodes(
        mgl_test_sampler(data, cfg.mgl),
        test,
        n_query=cfg.mgl.n_query,
        eval_times=2,
        rng=np.random.default_rng(args.seed),
    )
    from mgl.model.graph_map import query_row_weights

    episodes = [ep for _, eps in plan for ep in eps]
    weights = query_row_weights(model, features, episodes, data.table.languages)
    share = [weights["self"], weights["support"], 1.0 - weights["self"] - weights["support"]]  # rows sum to 1
    with torch.no_grad():
        sigma = torch.cat([model.graph.sigma(features(ep.nodes)).squeeze(-1) for ep in episodes])
    result = {
        "seed": args.seed,
        "overrides": args.overrides,
        "test_accuracy": metrics["accuracy"],
        "episodes": sum(len(e) for _, e in plan),
        "query_row_weight": {
            "self": share[0],
            "support": share[1],
            "other_queries": share[2],
            "cross_language": weights["cross_language"],
        },
        "sigma": {"mean": float(sigma.mean()), "min": float(sigma.min()), "max": float(sigma.max())},
    }
    write_out(args.out, result)
    print(
        f"test accuracy {metrics['accuracy']:.4f}; query rows of A~: self {share[0]:.3f}, support {share[1]:.3f}, "
        f"other queries {share[2]:.3f}; sigma mean {sigma.mean():.3f} (min {sigma.min():.3f}, max {sigma.max():.3f})"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
