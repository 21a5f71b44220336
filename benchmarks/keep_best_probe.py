"""How well does `--keep-best` choose? One Adult run keeps G at every check; afterwards each kept G is scored
on the real test split as the report scores a run (the four classifiers trained on as many synthetic rows as
adult.data holds), and on the held-out rows again with more synthetic draws. It prints what each rule for
choosing an epoch would have kept and that epoch's test F1, beside the best any rule could have kept.

    python benchmarks/keep_best_probe.py --seed 0 --minutes 15 --from-epoch 100    # about 25 minutes

The rules: `one draw` (what --keep-best does: the best held-out F1 of one draw of 5,000 rows), `N draws`
(the best mean over N draws), `window` (the best mean of a check and its two neighbours), `mixture of top K`
(rows drawn in equal parts from the K checks with the best held-out F1). The test split only scores; no rule
sees it.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.train_speed import cpu_name  # noqa: E402
from gankit.infra.io import write_text  # noqa: E402
from gankit.tabular import TabularGAN, adult  # noqa: E402
from gankit.tabular.efficacy import _train_and_score, positive_class, synthetic_f1  # noqa: E402
from gankit.tabular.frames import prepared  # noqa: E402
from gankit.tabular.report import column_kinds  # noqa: E402

TARGET = "income"


class RecordingGAN(TabularGAN):
    """A TabularGAN that keeps its generator's weights and its validator at every check."""

    def _validate(self, validator, epoch, log):
        super()._validate(validator, epoch, log)
        self.validator = validator
        self.snapshots = getattr(self, "snapshots", {})
        self.snapshots[epoch] = {k: v.detach().clone() for k, v in self._sampling_net().state_dict().items()}


def sample_mixture(gan: RecordingGAN, epochs: list[int], n: int, seed: int) -> pd.DataFrame:
    """n rows from the given checks' generators in equal parts, as --mix-best samples them."""
    return TabularGAN.from_state(gan.state_dict([gan.snapshots[e] for e in epochs])).sample(n, seed=seed)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--minutes", type=float, default=15.0)
    p.add_argument("--from-epoch", type=int, default=100, help="score the checks from this epoch on")
    p.add_argument("--draws", type=int, default=3, help="held-out draws per check for the N-draws rule")
    p.add_argument("--out", default="benchmarks/results/keep_best_probe.json")
    a = p.parse_args()
    train, test = adult.load("train"), adult.load("test")
    start = time.monotonic()
    # mix_best=1: G alone is what each check's rows come from, and the mixtures below are drawn here
    gan = RecordingGAN(epochs=10_000, minutes=a.minutes, seed=a.seed, keep_best=True, mix_best=1).fit(
        train, target=TARGET, log=lambda m: print(m, flush=True) if "held-out" in m or "kept" in m else None)
    print(f"trained in {time.monotonic() - start:.0f} s, {len(gan.history)} epochs", flush=True)

    kinds = column_kinds(train, None)
    test_p, positive = prepared(test, kinds, "test"), positive_class(train[TARGET])
    v = gan.validator

    def test_f1(synthetic: pd.DataFrame) -> float:
        s = prepared(synthetic[list(train.columns)], kinds, "synthetic")
        return _train_and_score(s, test_p, TARGET, kinds, positive, a.seed, [], "synthetic")["mean"]

    checks = {c["epoch"]: dict(c) for c in gan.validation if c["epoch"] >= a.from_epoch and c["passes"]}
    for epoch, check in checks.items():
        t0 = time.monotonic()
        gan.G.load_state_dict(gan.snapshots[epoch])
        check["test_f1"] = test_f1(gan.sample(len(train), seed=a.seed))
        check["draws"] = [check["f1"]] + [
            synthetic_f1(prepared(gan.sample(v.rows, seed=a.seed + 1000 * k)[list(v.train.columns)], v.kinds,
                                  "synthetic"), v.validation, v.kinds, v.target, v.positive, a.seed)
            for k in range(1, a.draws)]
        print(f"epoch {epoch}: held-out {check['f1']:.3f}, {a.draws} draws {np.mean(check['draws']):.3f}, "
              f"test {check['test_f1']:.3f} ({time.monotonic() - t0:.0f} s)", flush=True)

    epochs = sorted(checks)
    rules = {"one draw": max(epochs, key=lambda e: checks[e]["f1"]),
             f"{a.draws} draws": max(epochs, key=lambda e: np.mean(checks[e]["draws"])),
             "window of 3": max(epochs, key=lambda e: np.mean(
                 [checks[x]["f1"] for x in epochs[max(0, epochs.index(e) - 1):epochs.index(e) + 2]])),
             "best on test (no rule can see it)": max(epochs, key=lambda e: checks[e]["test_f1"])}
    result = {name: {"epoch": e, "test_f1": checks[e]["test_f1"]} for name, e in rules.items()}
    ranked = sorted(epochs, key=lambda e: -checks[e]["f1"])
    for k in (3, 5):
        result[f"mixture of top {k}"] = {"epochs": ranked[:k],
                                         "test_f1": test_f1(sample_mixture(gan, ranked[:k], len(train), a.seed))}
    values = [checks[e]["test_f1"] for e in epochs]
    result["all checks"] = {"mean": float(np.mean(values)), "std": float(np.std(values, ddof=1))}
    result["correlation of held-out and test F1"] = float(np.corrcoef([checks[e]["f1"] for e in epochs], values)[0, 1])
    result[f"correlation of {a.draws}-draw mean and test F1"] = float(
        np.corrcoef([np.mean(checks[e]["draws"]) for e in epochs], values)[0, 1])
    for name, r in result.items():
        print(f"{name}: {r}")
    out = {"cpu": cpu_name(), "torch": torch.__version__, "command": "python benchmarks/keep_best_probe.py "
           + " ".join(sys.argv[1:]), "epochs": len(gan.history), "rules": result, "checks": checks}
    write_text(ROOT / a.out, json.dumps(out, indent=1) + "\n")


if __name__ == "__main__":
    main()
