"""The tabular GAN: column encodings and their exact inverse, training-by-sampling, the pac gradient penalty,
fit/sample/save/load/resume, and the command line on CSV files (good and bad)."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
import torch
from torch.nn import functional as F

from gankit.cli import main
from gankit.infra import checkpoint
from gankit.infra.errors import GankitError
from gankit.tabular import TabularGAN
from gankit.tabular.columns import TableTransformer, infer_kinds
from gankit.tabular.model import ByteDropout, ConditionSampler, PacDiscriminator, TableGenerator, critic_loss


def mixed_table(n=600, seed=0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    group = rng.choice(["a", "b", "c"], n, p=[0.7, 0.25, 0.05])
    return pd.DataFrame({
        "group": group,
        "x": np.where(group == "a", rng.normal(-5, 1, n), rng.normal(5, 1, n)),  # bimodal, tied to group
        "count": rng.integers(0, 50, n),
        "flag": rng.random(n) < 0.3,
        "maybe": np.where(rng.random(n) < 0.2, np.nan, rng.normal(100, 10, n)),  # 20% missing
        "when": pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.integers(0, 365, n), unit="D"),
        "const": "same",
        "empty": np.full(n, np.nan),
    })


# --- columns ---

def test_kinds_are_inferred_and_can_be_overridden():
    df = mixed_table()
    assert infer_kinds(df) == {"group": "categorical", "x": "continuous", "count": "integer", "flag": "boolean",
                               "maybe": "continuous", "when": "datetime", "const": "categorical",
                               "empty": "categorical"}
    assert infer_kinds(df, {"count": "categorical"})["count"] == "categorical"
    with pytest.raises(GankitError, match="unknown column kind 'weird'"):
        infer_kinds(df, {"count": "weird"})
    with pytest.raises(GankitError, match="mixes types"):
        infer_kinds(pd.DataFrame({"m": [1, "a", 2.5, "b"]}))


def test_inverse_restores_dtypes_categories_ranges_and_missing_values():
    df = mixed_table()
    t = TableTransformer().fit(df)
    matrix = t.transform(df, np.random.default_rng(0))
    assert matrix.shape == (len(df), t.width) and matrix.dtype == np.float32
    back = t.inverse(matrix)
    assert list(back.columns) == list(df.columns)
    assert dict(back.dtypes) == dict(df.dtypes)
    assert (back["group"] == df["group"]).all() and (back["flag"] == df["flag"]).all()
    assert (back["count"] == df["count"]).all()  # integers stay integers, exactly
    assert np.allclose(back["x"], df["x"], atol=1e-4)
    assert (back["maybe"].isna() == df["maybe"].isna()).all()
    assert np.allclose(back["maybe"].dropna(), df["maybe"].dropna(), atol=1e-3)
    assert (back["when"] - df["when"]).abs().max() <= pd.Timedelta(seconds=300)  # float32 on ~1.7e9 seconds
    assert (back["const"] == "same").all() and back["empty"].isna().all()


def test_any_generated_matrix_decodes_to_values_the_data_could_hold():
    df = mixed_table()
    t = TableTransformer().fit(df)
    noise = np.random.default_rng(1).normal(0, 3, (500, t.width)).astype(np.float32)
    out = t.inverse(noise)
    assert set(out["group"]) <= set(df["group"])
    assert out["count"].between(df["count"].min(), df["count"].max()).all()
    assert out["x"].between(df["x"].min(), df["x"].max()).all()
    assert out["maybe"].dropna().between(df["maybe"].min(), df["maybe"].max()).all()


def test_fitted_state_survives_json():
    df = mixed_table()
    t = TableTransformer().fit(df)
    matrix = t.transform(df, np.random.default_rng(0))
    again = TableTransformer.from_state(json.loads(json.dumps(t.state())))
    pd.testing.assert_frame_equal(again.inverse(matrix), t.inverse(matrix))


@pytest.mark.parametrize("loader", ["load_iris", "load_wine", "load_diabetes"])
def test_scikit_learn_tables_round_trip_and_sample_in_their_dtypes(loader):
    import sklearn.datasets

    df = getattr(sklearn.datasets, loader)(as_frame=True).frame
    t = TableTransformer().fit(df)
    back = t.inverse(t.transform(df, np.random.default_rng(0)))
    assert dict(back.dtypes) == dict(df.dtypes)
    assert np.allclose(back.to_numpy(dtype=float), df.to_numpy(dtype=float), atol=1e-3 * df.abs().max().max())
    out = small_gan(epochs=1).fit(df, log=lambda m: None).sample(200, seed=0)
    assert dict(out.dtypes) == dict(df.dtypes)
    for column in df.columns:
        assert out[column].between(df[column].min(), df[column].max()).all()
        if t.coders[list(df.columns).index(column)].kind == "categorical":
            assert set(out[column]) <= set(df[column])


def money_table(n=4000, seed=0) -> pd.DataFrame:
    """capital-gain's shape: 90% exact zeros, the rest a heavy tail over three orders of magnitude; and an
    hours-like column with a spike on one value."""
    rng = np.random.default_rng(seed)
    gain = np.where(rng.random(n) < 0.9, 0, np.round(np.exp(rng.normal(8, 1.5, n)))).astype(np.int64)
    hours = np.where(rng.random(n) < 0.45, 40.0, rng.normal(38, 12, n).clip(1, 99))
    return pd.DataFrame({"gain": gain, "hours": hours, "group": rng.choice(["a", "b"], n)})


def test_point_masses_and_a_heavy_tail_get_exact_values_and_a_log_scale():
    df = money_table()
    t = TableTransformer().fit(df)
    gain, hours = t.coders[0], t.coders[1]
    assert gain.points == [0.0] and gain.log and gain.low == df["gain"][df["gain"] > 0].min()
    assert hours.points == [40.0] and not hours.log
    assert not t.coders[2].numeric
    assert any("'gain': 0 (91% of rows) kept as exact values; the other values modelled on a log scale" in note
               for note in t.notes)
    back = t.inverse(t.transform(df, np.random.default_rng(0)))
    assert dict(back.dtypes) == dict(df.dtypes)
    assert (back["gain"] == df["gain"]).all()  # integers, zeros and tail alike, exactly
    assert np.allclose(back["hours"], df["hours"], atol=1e-6 * 99)
    assert ((back["hours"] == 40.0) == (df["hours"] == 40.0)).all()


def test_a_point_mass_decodes_to_exactly_its_value_and_the_tail_stays_in_range():
    df = money_table()
    t = TableTransformer().fit(df)
    out = t.inverse(np.random.default_rng(1).normal(0, 3, (5000, t.width)).astype(np.float32))
    tail = df["gain"][df["gain"] > 0]
    drawn = out["gain"][out["gain"] > 0]
    assert out["gain"].dtype == np.int64 and len(drawn) and (out["gain"] == 0).any()
    # no value between 0 and the smallest real non-zero: a zero mode decodes to 0 exactly, not to 0..30
    assert drawn.between(tail.min(), tail.max()).all()
    assert out["hours"].between(df["hours"].min(), df["hours"].max()).all()


def test_a_column_of_only_point_masses_round_trips():
    df = pd.DataFrame({"level": np.repeat([1, 2, 3], [50, 30, 20]), "other": np.arange(100.0) / 7})
    t = TableTransformer().fit(df)
    assert t.coders[0].points == [1.0, 2.0, 3.0] and not t.coders[0].means
    back = t.inverse(t.transform(df, np.random.default_rng(0)))
    assert (back["level"] == df["level"]).all() and back["level"].dtype == df["level"].dtype
    again = TableTransformer.from_state(json.loads(json.dumps(t.state())))
    noise = np.random.default_rng(2).normal(0, 3, (300, t.width)).astype(np.float32)
    assert set(again.inverse(noise)["level"]) <= {1, 2, 3}


def test_numeric_columns_with_point_masses_are_conditioned_on_by_mode_in_training_only():
    df = money_table()
    t = TableTransformer().fit(df)
    matrix = t.transform(df, np.random.default_rng(0))
    sampler = ConditionSampler(t, matrix)
    names = [c.name for c in sampler.columns]
    assert names == ["group", "gain", "hours"] and [names[j] for j in sampler.discrete()] == ["group"]
    gain = names.index("gain")
    assert sampler.columns[gain].width == 1 + len(t.coders[0].means) and sampler.columns[gain].categories is None
    assert sampler.counts[gain][0] == (df["gain"] == 0).sum()  # slot 0: the exact zeros
    cond, cols, cats, rows = sampler.train_batch(20_000, np.random.default_rng(1))
    on_gain = cols == gain
    # the tail (10% of rows) is asked for far more often than it occurs, and the real rows drawn hold the mode
    assert (cats[on_gain] > 0).mean() > 0.5
    offset = sampler.data_offsets[gain]
    assert (matrix[rows[on_gain], offset:offset + sampler.columns[gain].width].argmax(1) == cats[on_gain]).all()
    gan = small_gan(epochs=1).fit(df, log=lambda m: None)
    with pytest.raises(GankitError, match="cannot condition on 'gain': use a discrete column, one of \\['group'\\]"):
        gan.sample(10, condition={"gain": 0})
    assert (gan.sample(50, seed=0, condition={"group": "b"})["group"] == "b").all()


def test_unseen_category_is_refused():
    df = mixed_table()
    t = TableTransformer().fit(df)
    bad = df.copy()
    bad.loc[0, "group"] = "zzz"
    with pytest.raises(GankitError, match="'zzz', a value the model never saw"):
        t.transform(bad, np.random.default_rng(0))


# --- training-by-sampling and the critic's penalty ---

def test_condition_sampler_favours_rare_categories_and_draws_rows_that_hold_them():
    df = mixed_table(2000)
    t = TableTransformer().fit(df)
    matrix = t.transform(df, np.random.default_rng(0))
    sampler = ConditionSampler(t, matrix)
    cond, cols, cats, rows = sampler.train_batch(20_000, np.random.default_rng(1))
    group = [c.name for c in sampler.columns].index("group")
    on_group = cols == group
    share_c = (cats[on_group] == sampler.columns[group].categories.index("c")).mean()
    assert share_c > 0.2 > (df["group"] == "c").mean()  # log-frequency: 5% of rows, about 27% of draws
    picked = np.asarray(sampler.columns[group].categories)[cats[on_group]]
    assert (df["group"].to_numpy()[rows[on_group]] == picked).all()
    assert (cond.sum(1) == 1).all()


def test_sampling_draws_each_category_from_the_softmax_not_its_most_likely_one():
    G = TableGenerator(2, 0, [("tanh", 1), ("softmax", 3)], hidden=())
    p = torch.tensor([0.7, 0.2, 0.1])
    raw = torch.cat([torch.zeros(20_000, 1), p.log().expand(20_000, 3)], dim=1)
    rows = G.activate(raw, hard=True, generator=torch.Generator().manual_seed(0))
    assert torch.equal(rows[:, 1:].sum(1), torch.ones(20_000))  # one-hots
    # each share within 4 standard errors of its probability (about 0.013 at 20,000 draws for 0.2)
    assert torch.allclose(rows[:, 1:].mean(0), p, atol=0.013)
    again = G.activate(raw, hard=True, generator=torch.Generator().manual_seed(0))
    assert torch.equal(rows, again)


def test_critic_loss_and_pac_gradient_penalty_of_a_linear_critic_are_known():
    torch.manual_seed(0)
    D = PacDiscriminator(data_dim=3, cond_dim=2, pac=4, hidden=())
    real, fake, cond = torch.randn(8, 3), torch.randn(8, 3), torch.randn(8, 2)
    # D is one linear layer over 4 rows of 3 data values and their 2 condition values: its gradient with respect
    # to the rows is the rows' weights, whatever the input
    w = D.rows_in.weight.detach()
    expected = (w.norm() - 1) ** 2
    loss, penalty = critic_loss(D, real, fake, cond, gp_weight=10.0)
    assert penalty.item() == pytest.approx(expected.item(), rel=1e-5)
    # and the loss is D's mean score of the fake packs minus the real packs', plus the weighted penalty
    score = lambda rows: D(rows, cond).mean().item()  # noqa: E731
    # the conditions' weights are part of the same layer: D is linear in rows and conditions together
    flat = lambda rows: torch.cat([rows, cond], 1).reshape(2, 20)  # noqa: E731
    w_all = torch.cat([D.rows_in.weight.reshape(4, 3), D.cond_in.weight.reshape(4, 2)], 1).reshape(1, 20)
    assert torch.allclose(D(fake, cond), (flat(fake) * w_all).sum(1) + D.rows_in.bias, atol=1e-5)
    assert loss.item() == pytest.approx(score(fake) - score(real) + 10 * expected.item(), rel=1e-5, abs=1e-6)


def test_condition_loss_is_each_rows_cross_entropy_on_its_picked_column():
    df = mixed_table(2000)
    t = TableTransformer().fit(df)
    sampler = ConditionSampler(t, t.transform(df, np.random.default_rng(0)))
    cond, cols, cats, rows = (torch.from_numpy(a) for a in sampler.train_batch(300, np.random.default_rng(1)))
    raw = torch.randn(300, t.width, generator=torch.Generator().manual_seed(2))
    expected = sum(F.cross_entropy(raw[i:i + 1, o:o + c.width], cats[i:i + 1]).item()
                   for i in range(300) for o, c in [(sampler.data_offsets[cols[i]], sampler.columns[cols[i]])]) / 300
    assert len(set(c.width for c in sampler.columns)) > 1  # padding to the widest column is exercised
    assert sampler.condition_loss(raw, cols, cats).item() == pytest.approx(expected, rel=1e-5)


def test_byte_dropout_drops_half_scales_the_rest_and_is_the_identity_in_eval():
    torch.manual_seed(0)
    drop = ByteDropout(0.5)
    x = torch.ones(1000, 100, requires_grad=True)
    y = drop(x)
    assert set(y.unique().tolist()) == {0.0, 2.0} and abs((y == 0).float().mean().item() - 0.5) < 0.01
    y.sum().backward()
    assert torch.equal(x.grad, y.detach())  # the gradient flows through the kept elements alone, scaled alike
    assert not torch.equal(drop(x), y)  # a new mask each call
    assert torch.equal(drop.eval()(x), x)
    with pytest.raises(ValueError, match="k/256"):
        ByteDropout(0.3)


# --- the GAN ---

def small_gan(**kw):
    options = dict(epochs=3, batch_size=100, seed=0, lr_g=1e-3, lr_d=1e-3)
    return TabularGAN(**{**options, **kw})


def test_fit_learns_the_relation_between_a_category_and_a_number():
    df = mixed_table(1000)[["group", "x"]]
    gan = small_gan(epochs=40).fit(df, log=lambda m: None)
    out = gan.sample(3000, seed=1)
    means = out.groupby("group")["x"].mean()
    assert means["a"] < -2.5 and means["b"] > 2.5  # real: -5 and +5
    shares = out["group"].value_counts(normalize=True)
    assert abs(shares["a"] - 0.7) < 0.1
    assert (gan.sample(50, seed=2, condition={"group": "c"})["group"] == "c").all()


def test_same_seed_same_table_and_save_load_round_trip(tmp_path):
    df = mixed_table(300)
    a = small_gan().fit(df, log=lambda m: None)
    b = small_gan().fit(df, log=lambda m: None)
    pd.testing.assert_frame_equal(a.sample(200, seed=5), b.sample(200, seed=5))
    a.save(tmp_path / "t.pt")
    loaded = TabularGAN.load(tmp_path / "t.pt")
    pd.testing.assert_frame_equal(loaded.sample(200, seed=5), a.sample(200, seed=5))
    assert torch.load(tmp_path / "t.pt", weights_only=True)["kind"] == "tabular"


def test_ema_samples_from_the_average_of_g_and_resumes_exactly():
    import copy

    df = mixed_table(300)
    plain = small_gan().fit(df, log=lambda m: None)
    states = []
    averaged = small_gan(ema=0.9).fit(df, log=lambda m: None, on_epoch=lambda gan, st: states.append(copy.deepcopy(st)))
    live, kept = states[-1]["live_generator"], averaged.G.state_dict()
    # the average changes nothing of the training (the live G is the plain run's), only what is sampled
    assert all(torch.equal(v, plain.G.state_dict()[k]) for k, v in live.items())
    assert not torch.equal(kept["out.weight"], live["out.weight"])
    assert torch.equal(states[-1]["generator"]["out.weight"], kept["out.weight"])  # checkpoints hold the average
    resumed = small_gan(ema=0.9).fit(df, log=lambda m: None, state=states[1])
    pd.testing.assert_frame_equal(resumed.sample(100, seed=1), averaged.sample(100, seed=1))
    with pytest.raises(GankitError, match="ema must be in"):
        TabularGAN(ema=1.0)


def test_lr_decay_lowers_both_learning_rates_linearly_to_zero_over_the_last_part_of_the_run():
    lrs = []
    small_gan(epochs=4, lr_decay=0.5).fit(mixed_table(200), log=lambda m: None, on_epoch=lambda gan, st: lrs.append(
        (st["opt_g"]["param_groups"][0]["lr"], st["opt_d"]["param_groups"][0]["lr"])))
    cfg = small_gan().config
    # epochs 1-4 start at progress 0, 1/4, 1/2 and 3/4: full rates over the first half, half of them at 3/4
    scales = [1.0, 1.0, 1.0, 0.5]
    assert lrs == [pytest.approx((cfg.lr_g * k, cfg.lr_d * k)) for k in scales]
    gan = small_gan(epochs=1000, minutes=10, lr_decay=0.5)
    assert gan._lr_scale(0, 240) == 1.0 and gan._lr_scale(0, 450) == pytest.approx(0.5)  # 10 minutes' 40%, 75%
    assert gan._lr_scale(999, 0) == pytest.approx(0.002)  # epochs or minutes: whichever is further along
    with pytest.raises(GankitError, match="lr_decay is the fraction"):
        TabularGAN(lr_decay=1.5)


def test_an_all_numeric_table_trains_without_conditions():
    df = mixed_table(300)[["x", "count"]]
    out = small_gan(epochs=1).fit(df, log=lambda m: None).sample(100, seed=0)
    assert list(out.columns) == ["x", "count"] and out["count"].dtype == np.int64


def test_an_image_checkpoint_is_not_a_tabular_model(tmp_path):
    checkpoint.save(tmp_path / "img.pt", {"generator": {}, "config": {}})
    with pytest.raises(GankitError, match="image GAN, not a tabular one"):
        TabularGAN.load(tmp_path / "img.pt")


def test_bad_options_and_conditions_are_refused():
    with pytest.raises(GankitError, match="not a multiple of pac"):
        TabularGAN(batch_size=55)
    gan = small_gan(epochs=1).fit(mixed_table(200), log=lambda m: None)
    with pytest.raises(GankitError, match="has no value 'zzz'"):
        gan.sample(5, condition={"group": "zzz"})
    with pytest.raises(GankitError, match="use a discrete column"):
        gan.sample(5, condition={"x": 1})


# --- command line ---

@pytest.fixture
def table_csv(tmp_path):
    path = tmp_path / "t.csv"
    mixed_table(300).drop(columns=["when"]).to_csv(path, index=False)
    return path


def test_train_sample_resume_and_evaluate_from_the_command_line(tmp_path, table_csv, capsys):
    run = tmp_path / "run"
    args = ["train", "--dataset", f"csv:{table_csv}", "--batch-size", "100", "--lr", "1e-3", "--run-dir", str(run)]
    assert main([*args, "--epochs", "2", "--target", "flag"]) == 0
    config = json.loads((run / "config.json").read_text())
    assert config["kind"] == "tabular" and config["target"] == "flag" and config["options"]["epochs"] == 2
    assert main(["train", "--run-dir", str(run), "--resume", "--epochs", "3"]) == 0
    assert len(pd.read_csv(run / "history.csv")) == 3
    # resuming equals training straight through
    straight = tmp_path / "straight"
    assert main([*args[:-1], str(straight), "--epochs", "3", "--target", "flag"]) == 0
    out_a, out_b = tmp_path / "a.csv", tmp_path / "b.csv"
    assert main(["sample", str(run), "-n", "100", "--seed", "3", "--out", str(out_a)]) == 0
    assert main(["sample", str(straight), "-n", "100", "--seed", "3", "--out", str(out_b)]) == 0
    pd.testing.assert_frame_equal(pd.read_csv(out_a), pd.read_csv(out_b))
    assert list(pd.read_csv(out_a).columns) == list(pd.read_csv(table_csv).columns)
    capsys.readouterr()
    assert main(["evaluate", str(run), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert 0 <= report["column_shape"]["mean"] <= 1 and report["rows"]["synthetic"] == 300


@pytest.mark.parametrize("content, message", [
    (b"", "is empty"),
    (b"a,b\n", "has a header but no rows"),
    (bytes(range(256)), "not a CSV file"),
])
def test_bad_csv_files_are_one_line_errors(tmp_path, capsys, content, message):
    path = tmp_path / "bad.csv"
    path.write_bytes(content)
    assert main(["train", "--dataset", f"csv:{path}", "--run-dir", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1
    assert not (tmp_path / "r").exists()


@pytest.mark.parametrize("flags, message", [
    (["--target", "nope"], "--target 'nope' is not a column"),
    (["--model", "dcgan"], "--model does not apply to tabular data"),
    (["--column-kind", "x"], "is not COLUMN=KIND"),
])
def test_bad_tabular_options_are_one_line_errors(tmp_path, table_csv, capsys, flags, message):
    assert main(["train", "--dataset", f"csv:{table_csv}", "--run-dir", str(tmp_path / "r"), *flags]) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "r").exists()


def test_an_existing_run_is_not_overwritten(tmp_path, table_csv, capsys):
    run = tmp_path / "run"
    run.mkdir()
    (run / "keep.txt").write_text("mine")
    assert main(["train", "--dataset", f"csv:{table_csv}", "--run-dir", str(run), "--epochs", "1"]) == 2
    assert (run / "keep.txt").read_text() == "mine"


def test_conditional_sampling_from_the_command_line(tmp_path, table_csv, capsys):
    run = tmp_path / "run"
    assert main(["train", "--dataset", f"csv:{table_csv}", "--run-dir", str(run), "--epochs", "1",
                 "--batch-size", "100"]) == 0
    out = tmp_path / "b.csv"
    assert main(["sample", str(run), "-n", "20", "--out", str(out), "--condition", "group=b"]) == 0
    assert (pd.read_csv(out)["group"] == "b").all()
    assert main(["sample", str(run), "-n", "20", "--out", str(tmp_path / "x.png")]) == 2
    assert math.isfinite(len(pd.read_csv(out)))


def test_a_built_in_table_trained_without_target_is_scored_on_its_own_target_and_test_split(tmp_path, monkeypatch):
    """`gankit evaluate RUN` on an adult run needs no flags: the data set's target (income) and its test split are
    known. Adult's 48k rows are swapped for a small table of the same kind; training and scoring are real."""
    from gankit.tabular import run as tabular_run

    rng = np.random.default_rng(0)

    def small_adult(dataset, split="train", data_dir=None, log=print):
        assert dataset == "adult"
        n = 400 if split == "train" else 200
        age = rng.integers(17, 90, n)
        return pd.DataFrame({"age": age, "workclass": rng.choice(["Private", "State-gov"], n),
                             "income": np.where(age + rng.normal(0, 10, n) > 50, ">50K", "<=50K")})

    monkeypatch.setattr(tabular_run, "read_table", small_adult)
    run = tmp_path / "run"
    tabular_run.train_table("adult", {"epochs": 2, "batch_size": 100}, run, log=lambda m: None)
    assert json.loads((run / "config.json").read_text())["target"] is None
    lines = []
    report = tabular_run.evaluate_run(run, log=lines.append)
    assert report.scores["ml_efficacy"]["target"] == "income" and report.scores["rows"]["real_test"] == 200
    assert "target income, the data set's own" in lines[-1]


def test_sampling_conditions_for_all_rows_at_once_draws_what_one_choice_per_row_drew():
    """The vectorised draw must give, seed for seed, the categories of the per-row loop it replaced."""
    from gankit.tabular.model import ConditionSampler

    sampler = ConditionSampler.__new__(ConditionSampler)
    sampler.columns = [object(), object(), object()]
    sampler.counts = [[5, 1, 0, 9], [3, 3], [1, 2, 3, 4, 5, 6, 7]]
    sampler.offsets, sampler.dim = [0, 4, 6], 13
    got = sampler.sample_batch(5000, np.random.default_rng(7))
    rng = np.random.default_rng(7)
    cols = rng.integers(3, size=5000)
    cats = [rng.choice(len(sampler.counts[j]), p=np.asarray(sampler.counts[j]) / sum(sampler.counts[j])) for j in cols]
    assert np.array_equal(got, sampler.vectors(cols, np.asarray(cats)))


# --- keeping the best epoch ---

def test_the_guard_fails_rows_copied_from_training_and_passes_fresh_ones():
    from gankit.tabular.validation import Validator, split

    df = mixed_table(4000).drop(columns=["when"])
    train, held = split(df, seed=0)
    assert len(held) == 400 and len(train) == 3600
    validator = Validator(train, held, "group", seed=0)
    copied = validator.score(train.sample(2000, random_state=1))
    fresh = validator.score(mixed_table(2000, seed=9).drop(columns=["when"]))
    assert not copied["passes"] and copied["near_copy_share"] > 0.5
    assert fresh["passes"] and fresh["near_copy_share"] < 0.1
    # x tells group a from b and c (macro F1 about 0.65: b and c share x's mode); rows whose group no longer
    # goes with x teach a classifier nothing
    unrelated = mixed_table(2000, seed=9).drop(columns=["when"])
    unrelated["group"] = unrelated["group"].sample(frac=1, random_state=0).to_numpy()
    assert fresh["f1"] > 0.55 and validator.score(unrelated)["f1"] < fresh["f1"] - 0.15


def test_keep_best_keeps_the_best_passing_epoch_and_the_run_samples_from_it(tmp_path, capsys):
    df = mixed_table(1000)[["group", "x", "count", "flag"]]
    gan = small_gan(epochs=6, keep_best=True, validate_every=2, mix_best=1).fit(df, target="group",
                                                                                 log=lambda m: None)
    assert [c["epoch"] for c in gan.validation] == [2, 4, 6]
    passing = [c for c in gan.validation if c["passes"]]
    assert passing and gan.best == max(passing, key=lambda c: c["f1"]) and gan.kept == [gan.best]
    kept = gan.best_state_dict()["generator"]
    assert all(torch.equal(v, kept[k]) for k, v in gan.G.state_dict().items())
    assert gan.mixed_with == [] and gan.best_state_dict()["mixed_with"] == []
    with pytest.raises(GankitError, match="pass target="):
        small_gan(keep_best=True).fit(df, log=lambda m: None)
    # the command line: best.pt and validation.csv beside last.pt; sample reads best.pt
    path = tmp_path / "t.csv"
    mixed_table(1000).drop(columns=["when"]).to_csv(path, index=False)
    run = tmp_path / "run"
    args = ["train", "--dataset", f"csv:{path}", "--batch-size", "100", "--lr", "1e-3", "--epochs", "4"]
    assert main([*args, "--run-dir", str(run), "--keep-best", "--target", "group"]) == 0
    assert (run / "checkpoints" / "best.pt").is_file() and len(pd.read_csv(run / "validation.csv")) == 1
    assert "near-copy share" in capsys.readouterr().out
    assert main([*args, "--run-dir", str(tmp_path / "no-target"), "--keep-best"]) == 2
    assert "add --target COLUMN" in capsys.readouterr().err and not (tmp_path / "no-target").exists()
    assert main([*args, "--run-dir", str(tmp_path / "no-keep"), "--mix-best", "2", "--target", "group"]) == 2
    assert "add --keep-best" in capsys.readouterr().err and not (tmp_path / "no-keep").exists()


def test_mix_best_keeps_the_best_epochs_and_samples_from_them_after_saving_and_resuming(tmp_path):
    import copy

    df = mixed_table(1000)[["group", "x", "count", "flag"]]
    states = []
    gan = small_gan(epochs=8, keep_best=True, validate_every=2, mix_best=2).fit(
        df, target="group", log=lambda m: None, on_epoch=lambda g, state: states.append(copy.deepcopy(state)))
    passing = sorted((c for c in gan.validation if c["passes"]), key=lambda c: -c["f1"])
    assert len(passing) >= 2 and gan.kept == passing[:2] and gan.best == passing[0]
    assert len(gan.mixed_with) == 1
    # best.pt's generators are the two kept epochs', best first; loaded, it samples what the fitted model does
    saved = gan.best_state_dict()
    for net, weights in zip((gan.G, gan.mixed_with[0]), (saved["generator"], saved["mixed_with"][0])):
        assert all(torch.equal(v, weights[k]) for k, v in net.state_dict().items())
    assert not all(torch.equal(v, saved["mixed_with"][0][k]) for k, v in saved["generator"].items())
    gan.save(tmp_path / "model.pt")
    pd.testing.assert_frame_equal(TabularGAN.load(tmp_path / "model.pt").sample(200, seed=3), gan.sample(200, seed=3))
    # resumed from epoch 4, the run keeps the same epochs as the one that ran through
    resumed = small_gan(epochs=8, keep_best=True, validate_every=2, mix_best=2).fit(
        df, target="group", log=lambda m: None, state=states[3])
    assert resumed.kept == gan.kept
    pd.testing.assert_frame_equal(resumed.sample(200, seed=3), gan.sample(200, seed=3))


def test_a_mixture_draws_its_rows_in_equal_parts_from_each_generator_in_random_order():
    df = mixed_table(600)[["group", "x"]]
    gan = small_gan(epochs=1).fit(df, log=lambda m: None)
    categories = [str(c) for c in gan.transformer.coders[0].categories]  # "group"'s one-hot: the first outputs

    def sure_of(k: int):  # a generator that always writes category k of group
        net = gan._generator(gan.G.state_dict())
        with torch.no_grad():
            net.out.weight[:len(categories)] = 0
            net.out.bias[:len(categories)] = -50
            net.out.bias[k] = 50
        return net

    gan.G, gan.mixed_with = sure_of(0), [sure_of(1), sure_of(2)]
    rows = gan.sample(3001, seed=0)["group"].astype(str)
    assert sorted(rows.value_counts().tolist()) == [1000, 1000, 1001]
    assert set(rows.value_counts().index) == set(categories)
    assert rows[:30].nunique() == 3  # shuffled: a table's first rows are not one generator's
