"""Speed and memory of `gankit evaluate`, against a straightforward implementation, in one process.

    python benchmarks/eval_speed.py            # trains a 1-epoch seed run first (about half a minute)
    python benchmarks/eval_speed.py --run RUN  # or scores a run you have

Three timings, each the median of --repeats, side by side:
  sample       drawing N images from the run's generator (the yardstick: evaluation should cost a few of these)
  gankit       gankit.eval.evaluate.evaluate(run, n=N) with the default metrics, reference features cached
  plain        the same sampling, feature pass and cached real features, scored the plain way: scipy.linalg.sqrtm
               FID and dense float64 k-NN precision/recall and density/coverage (gankit/reference/metrics.py);
               gankit computes KID, IS, classes and memorisation on top
`--memory` runs `gankit evaluate` of N samples in a child process and reports its peak resident memory.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import gankit  # noqa: E402
from gankit.eval.evaluate import evaluate  # noqa: E402
from gankit.metrics.domain import load_domain_classifier  # noqa: E402
from gankit.metrics.reference import reference_features  # noqa: E402
from gankit.reference import metrics as ref  # noqa: E402


def timed(fn, repeats: int) -> tuple[float, object]:
    times, out = [], None
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--run", help="a run directory (default: train the seed preset for 1 epoch)")
    parser.add_argument("-n", type=int, default=10_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--memory", action="store_true")
    args = parser.parse_args()
    quiet = lambda s: None  # noqa: E731
    with tempfile.TemporaryDirectory() as tmp:
        run = args.run or gankit.train("seed", run_dir=Path(tmp) / "seed", epochs=1, progress=False, log=quiet).run_dir
        evaluate(run, n=args.n, log=quiet)  # fills the reference cache
        g = gankit.load(run)
        t_sample, _ = timed(lambda: g.sample(args.n, seed=0), args.repeats)
        t_gankit, report = timed(lambda: evaluate(run, n=args.n, log=quiet), args.repeats)

        extractor = load_domain_classifier("mnist")
        real = reference_features(extractor, "mnist", "test", args.n, 0, None, quiet).feats.double().numpy()

        def plain():
            fake_feats = extractor.extract(g.sample(args.n, seed=0))[0].double().numpy()
            return (ref.fid_sqrtm(real, fake_feats), ref.precision_recall_dense(real, fake_feats),
                    ref.density_coverage_dense(real, fake_feats))

        t_plain, (fid_plain, pr_plain, dc_plain) = timed(plain, 1)
        memory = peak_rss_mb(run, args.n) if args.memory else None

    m = report.metrics
    print(f"N = {args.n}, run {run if args.run else '(seed preset, 1 epoch)'}, median of {args.repeats}")
    print(f"  sample {args.n} images:                 {t_sample:7.2f} s")
    print(f"  gankit evaluate (all metrics, cached): {t_gankit:7.2f} s   ({t_gankit / t_sample:.1f}x sampling)")
    print(f"  plain (sample, features, fid + pr + dc): {t_plain:5.2f} s   (gankit, with more metrics, "
          f"{t_plain / t_gankit:.1f}x faster)")
    print(f"  agreement: fid {m['fid']:.4f} vs {fid_plain:.4f}; precision {m['precision']:.4f} vs {pr_plain[0]:.4f}; "
          f"recall {m['recall']:.4f} vs {pr_plain[1]:.4f}; density {m['density']:.4f} vs {dc_plain[0]:.4f}; "
          f"coverage {m['coverage']:.4f} vs {dc_plain[1]:.4f}")
    if memory is not None:
        print(f"  peak resident memory of `gankit evaluate -n {args.n}`: {memory:,.0f} MB")


def peak_rss_mb(run: Path, n: int) -> float:
    from benchmarks.train_speed import peak_rss_mb as child_peak

    body = f"from gankit.cli import main\nmain(['evaluate', {str(run)!r}, '-n', '{n}', '--json'])"
    return child_peak(body, Path(__file__).resolve().parents[1])


if __name__ == "__main__":
    main()
