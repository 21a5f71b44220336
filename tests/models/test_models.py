"""Models by name: shapes and ranges, conditioning, spectral norm, DCGAN init, options, and the tutorial's MLP kept intact."""


import pytest
import torch
from torch import nn
from torch.nn.utils import parametrize

from gankit import models
from gankit.infra.errors import GankitError
from gankit.models import dcgan, mlp
from gankit.reference import tutorial as tutorial_reference
from gankit.training import losses
from gankit.training.config import TrainConfig, config_from, flags, preset_config, replace, validate
from gankit.training.step import GanStep, mixes_batch

SHAPES = [(c, s, s) for s in (28, 32, 64, 128) for c in (1, 3)]
N, Z = 4, 16


def _inputs(num_classes, n=N, seed=0):
    gen = torch.Generator().manual_seed(seed)
    labels = torch.randint(0, num_classes, (n,), generator=gen) if num_classes else None
    return torch.randn(n, Z, generator=gen), labels


@pytest.mark.parametrize("num_classes", [0, 10])
@pytest.mark.parametrize("shape", SHAPES)
def test_dcgan_shapes_and_a_g_that_depends_on_its_noise(shape, num_classes):
    torch.manual_seed(0)
    G, D = models.build("dcgan", shape, Z, num_classes, width=8)
    z, labels = _inputs(num_classes)
    x = G(z, labels)
    assert x.shape == (N, *shape) and x.dtype == torch.float32
    G.eval()  # batch norm from running statistics: each image is a function of its own noise alone
    one, other = G(z[:2], None if labels is None else labels[:2]), G(z[1:3], None if labels is None else labels[1:3])
    assert torch.allclose(one[1], other[0], atol=1e-6) and not torch.allclose(one[0], one[1])
    for norm in dcgan.NORMS:
        D = models.build("dcgan", shape, Z, num_classes, width=8, norm=norm)[1]
        logits = D(x, labels)
        assert logits.shape == (N,) and torch.isfinite(logits).all(), norm


@pytest.mark.parametrize("shape", SHAPES)
def test_nearest_upsampling_generator_has_no_transposed_convs_and_the_same_output(shape):
    G = models.build("dcgan", shape, Z, width=8, upsample="nearest")[0]
    assert not any(isinstance(m, torch.nn.ConvTranspose2d) for m in G.modules())
    assert G(_inputs(0)[0]).shape == (N, *shape)


@pytest.mark.parametrize("num_classes", [0, 10])
def test_mlp_shapes(num_classes):
    G, D = models.build("mlp", (1, 28, 28), Z, num_classes)
    z, labels = _inputs(num_classes)
    x = G(z, labels)
    assert x.shape == (N, 1, 28, 28) and -1 <= x.min() and x.max() <= 1
    assert D(x, labels).shape == (N,)


def test_build_keeps_its_positional_call_sites():
    G, D = models.build("mlp", (1, 28, 28), 100)  # the engine's call
    assert isinstance(G, mlp.Generator) and G.num_classes == 0
    G, D = models.build("dcgan", torch.Size([1, 28, 28]), 100, 0)  # sample.py's, with a dataset's torch.Size
    assert G(torch.randn(2, 100)).shape == (2, 1, 28, 28)
    assert mixes_batch(D)  # the registered dcgan is the DCGAN's: a batch-norm D


def test_build_for_takes_the_configs_width_and_d_norm():
    cfg = replace(preset_config("seed"), {"model": "dcgan", "z_dim": Z, "width": 8, "d_norm": "spectral"})
    assert cfg.model_options == {"width": 8, "d_norm": "spectral"}
    G, D = models.build_for(cfg, (1, 28, 28), 10)
    assert G.net[0].gain.num_embeddings == 10 and D.norm == "spectral" and D.net[0].out_channels == 8
    G, D = models.build_for(replace(cfg, {"width": None, "d_norm": None}), (1, 28, 28))
    assert D.norm == "batch" and D.net[0].out_channels == 64 and G.num_classes == 0  # the model's defaults
    G, D = models.build_for(preset_config("seed"), (1, 28, 28))
    assert isinstance(G, mlp.Generator) and isinstance(D, mlp.Discriminator)


def test_a_config_saved_before_model_options_were_grouped_loads_with_the_same_options():
    old = {**preset_config("best").to_dict(), "width": 48, "d_norm": "spectral", "g_upsample": None,
           "d_minibatch_std": None, "g_refine": 1}  # the flat fields of earlier runs' config.json
    del old["model_options"]
    assert TrainConfig.from_dict(old) == preset_config("best")


@pytest.mark.parametrize("model", ["mlp", "dcgan"])
def test_conditional_models_use_the_labels(model):
    torch.manual_seed(0)
    G, D = models.build(model, (1, 28, 28), Z, 10, **({"norm": "none"} if model == "dcgan" else {}))
    G.eval()  # batch statistics would mix the two halves
    z = torch.randn(1, Z).repeat(10, 1)
    x = G(z, torch.arange(10))
    assert (x[1:] - x[0]).abs().amax(dim=(1, 2, 3)).min() > 1e-4  # every class draws another image from the same z
    same = torch.rand(1, 1, 28, 28).repeat(10, 1, 1, 1) * 2 - 1
    logits = D(same, torch.arange(10))
    assert (logits[1:] - logits[0]).abs().min() > 1e-5
    with pytest.raises(GankitError, match="conditional"):
        G(z)


@pytest.mark.parametrize("shape", [(1, 28, 28), (3, 64, 64)])
def test_spectral_norm_keeps_every_weight_at_unit_spectral_norm(shape):
    torch.manual_seed(0)
    D = models.build("dcgan", shape, Z, 10, norm="spectral")[1].train()
    wrapped = [m for m in D.modules() if parametrize.is_parametrized(m, "weight")]
    layers = [m for m in D.modules() if isinstance(m, (nn.Conv2d, nn.Linear, nn.Embedding))]
    assert wrapped == layers and {nn.Conv2d, nn.Linear, nn.Embedding} <= {t for m in layers for t in type(m).__mro__}
    x, labels = torch.rand(8, *shape) * 2 - 1, torch.arange(8)
    with torch.no_grad():
        for _ in range(20):  # each train-mode forward runs one power iteration
            D(x, labels)
    D.eval()
    for m in wrapped:
        w = m.weight.detach()
        sigma = torch.linalg.matrix_norm(w.reshape(w.shape[0], -1), ord=2)
        assert abs(sigma.item() - 1) < 0.05, m
    assert not mixes_batch(D)


@pytest.mark.parametrize("norm, batch_statistics", [("batch", True), ("none", False), ("spectral", False)])
def test_only_a_batch_norm_d_mixes_batch(norm, batch_statistics):
    G, D = models.build("dcgan", (3, 32, 32), Z, norm=norm, width=8)
    assert mixes_batch(D) == batch_statistics
    assert mixes_batch(G)  # G always has the DCGAN's batch norm


def test_dcgan_init_statistics():
    torch.manual_seed(0)
    G, D = models.build("dcgan", (3, 64, 64), 100, 10)
    for name, module in [*G.named_modules(), *D.named_modules()]:
        if isinstance(module, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)) and module.weight.numel() > 10_000:
            assert abs(module.weight.std().item() - 0.02) < 0.001, name
            assert abs(module.weight.mean().item()) < 0.001, name
        if isinstance(module, nn.BatchNorm2d) and module.affine:
            assert abs(module.weight.mean().item() - 1) < 0.01 and 0.01 < module.weight.std().item() < 0.03, name
        if isinstance(module, dcgan.ConditionalBatchNorm2d):  # the DCGAN's batch-norm init, for each class
            gain = module.gain.weight
            assert abs(gain.mean().item() - 1) < 0.01 and 0.01 < gain.std().item() < 0.03, name
            assert torch.all(module.bias.weight == 0), name
        elif isinstance(getattr(module, "bias", None), torch.Tensor):
            assert torch.all(module.bias == 0), name
    assert abs(D.embed.weight.std().item() - 0.02) < 0.002  # the projection starts on the linear term's scale
    assert any(isinstance(m, nn.BatchNorm2d) and m.affine for m in models.build("dcgan", (1, 28, 28), 100)[0].modules())


def test_conditional_dcgan_generator_takes_the_label_at_every_batch_norm():
    torch.manual_seed(0)
    G, _ = models.build("dcgan", (1, 28, 28), Z, 3, width=8)
    norms = [m for m in G.modules() if isinstance(m, dcgan.ConditionalBatchNorm2d)]
    assert len(norms) == 2 and not any(isinstance(m, nn.Embedding) and m.embedding_dim > 64 for m in G.modules())
    with torch.no_grad():  # class 1's last batch norm switches every feature off: its images no longer depend on z
        norms[-1].gain.weight[1] = 0
        norms[-1].bias.weight[1] = 0
    z = torch.randn(6, Z)
    out = G(z, torch.tensor([0, 0, 0, 1, 1, 1]))  # batch statistics: activations on their training scale
    assert torch.allclose(out[3], out[4]) and torch.allclose(out[4], out[5])
    assert (out[0] - out[1]).abs().max() > 1e-2  # class 0 still follows z
    other = G(z, torch.tensor([2, 0, 0, 1, 1, 1]))  # same z and batch, another class in the first place
    assert (out[0] - other[0]).abs().max() > 1e-3


@pytest.mark.parametrize("shape", [(1, 48, 48), (3, 32, 28), (1, 16, 16), (2, 32, 32), (3, 256, 256)])
def test_unsupported_image_shape_names_the_sizes(shape):
    with pytest.raises(GankitError, match=r"28x28, 32x32, 64x64 or 128x128.*--image-size"):
        models.build("dcgan", shape, Z)


def test_unsupported_shape_suggests_the_nearest_size_and_channels():
    with pytest.raises(GankitError, match=r"--image-size 64 and --channels 1 or 3"):
        models.build("dcgan", (4, 60, 60), Z)


@pytest.mark.parametrize("name, options, message", [
    ("mlp", {"width": 32}, "model mlp has no option width: it takes no options"),
    ("dcgan", {"depth": 3}, "model dcgan has no option depth: its options are width, d_norm, g_upsample"),
    ("dcgan", {"d_norm": "layer"}, "unknown norm 'layer'"),
    ("dcgan", {"g_upsample": "bilinear"}, "unknown upsample 'bilinear'"),
    ("dcgan", {"width": 0}, "width must be a positive integer"),
    ("dcgan", {"width": 32.0}, "width must be a positive integer"),
    ("gan", {}, "unknown model 'gan'"),
])
def test_bad_model_options_are_refused(name, options, message):
    with pytest.raises(GankitError, match=message):
        models.check_options(name, options)  # config keys
    keyword = {"d_norm": "norm", "g_upsample": "upsample"}
    with pytest.raises(GankitError, match=message.replace("d_norm, g_upsample", "norm, upsample")):
        models.build(name, (1, 28, 28), Z, **{keyword.get(k, k): v for k, v in options.items()})  # builder keywords


@pytest.fixture
def deep_model():
    """A model registered as a model module registers itself, with one option; taken out again afterwards."""
    from gankit.models import registry

    built = {}

    class G(mlp.Generator):
        def __init__(self, shape, z_dim, num_classes, *, depth=2):
            super().__init__(shape, z_dim, num_classes)
            built["G"] = depth

    def check(depth=2):
        if depth < 1:
            raise GankitError(f"model deep: depth must be 1 or more, got {depth}")

    registry.register("deep", G, mlp.Discriminator,
                      (models.ModelOption("g_depth", int, 2, "G's depth", "G", arg="depth"),), check)
    yield built
    del registry.MODELS["deep"]


def test_a_model_option_declared_beside_the_model_reaches_the_config_the_flags_and_the_builders(deep_model, capsys):
    """Adding an option is one declaration at the model's registration: TOML keys, flags, help, validation and
    build_for all read it from there."""
    from gankit.cli import main

    built = deep_model
    cfg = validate(config_from("seed", options={"model": "deep", "g_depth": 5}))
    assert cfg.model_options == {"g_depth": 5} and TrainConfig.from_dict(cfg.to_dict()) == cfg
    models.build_for(cfg, (1, 28, 28))
    assert built["G"] == 5
    with pytest.raises(GankitError, match="depth must be 1 or more"):
        validate(config_from("seed", options={"model": "deep", "g_depth": 0}))
    with pytest.raises(GankitError, match="model mlp has no option g_depth"):
        validate(config_from("seed", options={"g_depth": 5}))
    assert any(f.flag == "--g-depth" and f.kind is int and "deep: G's depth (default: deep 2)" in f.help
               for f in flags())
    with pytest.raises(SystemExit):
        main(["train", "--preset", "seed", "--help"])
    assert "--g-depth G_DEPTH" in capsys.readouterr().out


def test_width_scales_both_networks():
    small, large = models.build("dcgan", (1, 28, 28), Z, width=8), models.build("dcgan", (1, 28, 28), Z, width=16)
    for s, l in zip(small, large):
        assert sum(p.numel() for p in s.parameters()) < sum(p.numel() for p in l.parameters())


def test_unconditional_mlp_is_the_tutorials_parameter_for_parameter():
    torch.manual_seed(7)
    ours = mlp.Generator(), mlp.Discriminator()
    torch.manual_seed(7)
    tutorial = tutorial_reference.Generator(), tutorial_reference.Discriminator()
    for a, b in zip(ours, tutorial):
        sa, sb = a.state_dict(), b.state_dict()
        assert [(k, v.shape) for k, v in sa.items()] == [(k, v.shape) for k, v in sb.items()]
        assert all(torch.equal(sa[k], sb[k]) for k in sa)  # same RNG draws: same initial weights
    z = torch.randn(5, 100)
    assert torch.equal(ours[0](z).flatten(1), tutorial[0](z))
    x = torch.rand(5, 1, 28, 28)
    assert torch.equal(torch.sigmoid(ours[1](x)), tutorial[1](x.flatten(1)).squeeze(1))


def test_conditional_mlp_d_keeps_the_unconditional_layers():
    torch.manual_seed(3)
    plain = mlp.Discriminator()
    torch.manual_seed(3)
    conditional = mlp.Discriminator(num_classes=10)
    assert set(conditional.state_dict()) == set(plain.state_dict()) | {"embed.weight"}
    assert all(torch.equal(v, conditional.state_dict()[k]) for k, v in plain.state_dict().items())


@pytest.mark.parametrize("norm", ["batch", "spectral"])
def test_one_gan_step_trains_dcgan(norm):
    torch.manual_seed(0)
    G, D = models.build("dcgan", (1, 28, 28), Z, width=8, norm=norm)
    opt_g, opt_d = torch.optim.Adam(G.parameters(), 2e-4, betas=(0.5, 0.999)), torch.optim.Adam(D.parameters(), 2e-4)
    before = [p.detach().clone() for p in (*G.parameters(), *D.parameters())]
    step = GanStep(G, D, opt_g, opt_d, losses.get("bce"))
    assert step.joint_d_pass == (norm != "batch")
    stats = step(torch.rand(16, 1, 28, 28) * 2 - 1, torch.randn(16, Z))
    assert all(torch.isfinite(v) for v in stats.values())
    after = [p.detach() for p in (*G.parameters(), *D.parameters())]
    assert all(not torch.equal(a, b) for a, b in zip(before, after))


def test_minibatch_std_appends_each_groups_mean_feature_spread():
    torch.manual_seed(0)
    x = torch.randn(8, 3, 5, 5)
    out = dcgan.MinibatchStd(group=4)(x)
    assert out.shape == (8, 4, 5, 5) and torch.equal(out[:, :3], x)
    for g in range(2):  # consecutive groups of 4, each its own spread, the same for every image and position in it
        group = x[4 * g:4 * g + 4]
        expected = ((group - group.mean(0)) ** 2).mean(0).add(1e-8).sqrt().mean()
        assert torch.allclose(out[4 * g:4 * g + 4, 3], expected.expand(4, 5, 5), atol=1e-6)
    changed = x.clone()
    changed[5] += 10  # a change in the second group leaves the first group's channel as it was
    out2 = dcgan.MinibatchStd(group=4)(changed)
    assert torch.equal(out2[:4, 3], out[:4, 3]) and (out2[4:, 3] > out[4:, 3]).all()
    assert dcgan.MinibatchStd(group=4)(x[:6]).shape == (6, 4, 5, 5)  # 6 images: groups of gcd(6, 4) = 2


def test_minibatch_std_d_scores_a_batch_of_copies_apart_from_a_varied_batch():
    torch.manual_seed(0)
    _, D = models.build("dcgan", (1, 28, 28), Z, width=8, norm="spectral", minibatch_std=True)
    _, plain = models.build("dcgan", (1, 28, 28), Z, width=8, norm="spectral")
    assert mixes_batch(D) and not mixes_batch(plain)
    D.eval(), plain.eval()  # spectral norm's power iteration would move the weights between calls
    varied = torch.rand(8, 1, 28, 28) * 2 - 1
    copies = varied[:1].expand(8, 1, 28, 28)
    # the first image's logit depends on its group: alone among copies it scores otherwise than among others
    assert not torch.allclose(D(varied)[0], D(copies)[0])
    assert torch.allclose(plain(varied)[0], plain(copies)[0])
    G, _ = models.build("dcgan", (1, 28, 28), Z, width=8)
    step = GanStep(G, D, torch.optim.Adam(G.parameters()), torch.optim.Adam(D.parameters()),
                   losses.get("least-squares"))
    assert not step.joint_d_pass  # real and fake through D apart: no group mixes them


def test_minibatch_std_is_refused_by_the_mlp():
    with pytest.raises(GankitError, match="model mlp has no option d_minibatch_std"):
        validate(replace(preset_config("seed"), {"d_minibatch_std": True}))
    validate(replace(preset_config("best"), {"d_minibatch_std": True}))


@pytest.mark.parametrize("num_classes", [0, 10])
def test_g_refine_adds_convs_with_their_batch_norms_on_the_first_map(num_classes):
    torch.manual_seed(0)
    plain, _ = models.build("dcgan", (1, 28, 28), Z, num_classes, width=8)
    torch.manual_seed(0)
    refined, _ = models.build("dcgan", (1, 28, 28), Z, num_classes, width=8, refine=2)
    convs = [m for m in refined.net if isinstance(m, nn.Conv2d)]
    assert len(convs) == 2 and all(c.in_channels == c.out_channels == refined.start_channels for c in convs)
    assert all(c.kernel_size == (3, 3) and c.stride == (1, 1) for c in convs)
    # each refine conv is followed by the model's own batch norm: per-class in a conditional G
    norm = dcgan.ConditionalBatchNorm2d if num_classes else nn.BatchNorm2d
    count = lambda G: sum(isinstance(m, norm) for m in G.net)  # noqa: E731
    assert count(refined) == count(plain) + 2
    sides = []  # the convs work on the first map, 7 x 7, before any upsampling
    for c in convs:
        c.register_forward_hook(lambda m, inp, out: sides.append(tuple(inp[0].shape[2:])))
    z, labels = torch.randn(6, Z), (torch.arange(6) % 10 if num_classes else None)
    out = refined(z, labels)
    assert sides == [(7, 7), (7, 7)]
    assert out.shape == (6, 1, 28, 28) and out.abs().max() <= 1
    # each conv is in the path from z to the image: its gradient is non-zero
    out.sum().backward()
    assert all(c.weight.grad.abs().sum() > 0 for c in convs)


def test_g_refine_is_checked_and_refused_by_the_mlp():
    with pytest.raises(GankitError, match="model mlp has no option g_refine"):
        validate(replace(preset_config("seed"), {"g_refine": 1}))
    for bad in (-1, 1.5, True):
        with pytest.raises(GankitError, match="refine must be a whole number"):
            models.build("dcgan", (1, 28, 28), Z, width=8, refine=bad)
    validate(replace(preset_config("best"), {"g_refine": 1}))
