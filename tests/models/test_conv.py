"""gankit's convolutions compute what PyTorch's do: the other forms of each product (the weight gradient as a
forward convolution, a transposed product as a matrix product and a fold) in float64 to rounding, the layers
under bf16 autocast within bf16's rounding of PyTorch's own kernels, and a gradient penalty through them."""

import contextlib

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from gankit.models import conv
from gankit.models.conv import Conv2d, ConvTranspose2d, plain_kernels, transposed_by_fold, weight_grad_as_conv

# (batch, in, side, out, kernel, stride, padding): DCGAN's 4/2/1, a 3x3 conv, sides the stride does not divide
GEOMETRIES = [(5, 3, 14, 4, 4, 2, 1), (5, 3, 7, 4, 4, 2, 1), (3, 2, 7, 5, 3, 1, 1), (4, 6, 5, 2, 3, 2, 0),
              (3, 4, 9, 5, 3, 3, 1)]


def _reference(gy, x, w, s, p, transposed):
    return torch.ops.aten.convolution_backward(gy, x, w, None, [s, s], [p, p], [1, 1], transposed, [0, 0], 1,
                                               [True, True, False])


@pytest.mark.parametrize("transposed", [False, True], ids=["conv", "transposed"])
@pytest.mark.parametrize("geometry", GEOMETRIES)
def test_each_products_other_form_is_the_same_sum(geometry, transposed):
    n, c_in, side, c_out, k, s, p = geometry
    g = torch.Generator().manual_seed(0)
    x = torch.randn(n, c_in, side, side, generator=g, dtype=torch.float64)
    w = torch.randn(*((c_in, c_out) if transposed else (c_out, c_in)), k, k, generator=g, dtype=torch.float64)
    y = (F.conv_transpose2d if transposed else F.conv2d)(x, w, None, s, p)
    gy = torch.randn(y.shape, generator=g, dtype=torch.float64)
    gx_ref, gw_ref = _reference(gy, x, w, s, p, transposed)[:2]

    gw = weight_grad_as_conv(gy, x, k, s, p) if transposed else weight_grad_as_conv(x, gy, k, s, p)
    assert gw.shape == w.shape
    torch.testing.assert_close(gw, gw_ref, rtol=1e-10, atol=1e-10)
    if transposed:  # the output is the transposed product
        torch.testing.assert_close(transposed_by_fold(x, w, y.shape[-2:], k, s, p), y, rtol=1e-10, atol=1e-10)
    else:  # the input gradient is
        torch.testing.assert_close(transposed_by_fold(gy, w, x.shape[-2:], k, s, p), gx_ref, rtol=1e-10, atol=1e-10)


def _pair(cls, *args, **kwargs):
    """A gankit layer and PyTorch's, with the same weights."""
    torch.manual_seed(0)
    mine = cls(*args, **kwargs)
    theirs = getattr(nn, cls.__name__)(*args, **kwargs)
    theirs.load_state_dict(mine.state_dict())
    return mine, theirs


def _run(layer, x, bf16: bool):
    x = x.clone().requires_grad_(True)
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
        y = layer(x)
    y.float().square().sum().backward()
    return y, x.grad, {n: p.grad.clone() for n, p in layer.named_parameters()}


def _close(a, b, tol):
    """Within tol of the larger magnitude: bf16 keeps 8 significant bits, and one rounding of an output moves
    the gradients that follow from it by as much."""
    scale = max(a.abs().max().item(), b.abs().max().item(), 1e-30)
    assert (a.float() - b.float()).abs().max().item() <= tol * scale


@pytest.mark.numerics
@pytest.mark.parametrize("layer", [
    (Conv2d, (16, 32, 4, 2, 1), (8, 16, 14, 14)),  # weight gradient as a forward convolution
    (ConvTranspose2d, (32, 16, 4, 2, 1), (8, 32, 7, 7)),  # the same, for a transposed conv
    (Conv2d, (16, 16, 3, 1, 1), (8, 16, 7, 7)),
    (Conv2d, (1, 16, 4, 2, 1), (8, 1, 28, 28)),  # input gradient into one channel by a fold
    (ConvTranspose2d, (16, 1, 4, 2, 1), (8, 16, 14, 14)),  # output into one channel by a fold
], ids=["conv", "transposed", "conv3x3", "conv-into-grey", "transposed-into-grey"])
@pytest.mark.parametrize("bf16", [False, True], ids=["fp32", "bf16"])
def test_layers_compute_what_pytorchs_do(layer, bf16):
    cls, args, shape = layer
    mine, theirs = _pair(cls, *args)
    x = torch.randn(shape, generator=torch.Generator().manual_seed(1))
    y, gx, gw = _run(mine, x, bf16)
    grey = 1 in (args[0], args[1])
    # its own path where a product goes to another kernel, PyTorch's autograd node where none does
    assert (type(y.grad_fn).__name__ == "_ConvBackward") == (grey or (bf16 and not conv._has_amx()))
    y_ref, gx_ref, gw_ref = _run(theirs, x, bf16)
    assert y.dtype == y_ref.dtype  # under autocast both give bf16
    tol = 1e-2 if bf16 else 1e-5
    _close(y, y_ref, tol)
    _close(gx, gx_ref, tol)
    for name in gw_ref:
        _close(gw[name], gw_ref[name], tol)


@pytest.mark.numerics
def test_plain_kernels_give_pytorchs_own_results_bit_for_bit():
    mine, theirs = _pair(Conv2d, 16, 32, 4, 2, 1)
    x = torch.randn(4, 16, 14, 14)
    with plain_kernels():
        y, gx, gw = _run(mine, x, True)
        assert type(y.grad_fn).__name__ != "_ConvBackward"
    y_ref, gx_ref, gw_ref = _run(theirs, x, True)
    assert torch.equal(y, y_ref) and torch.equal(gx, gx_ref) and torch.equal(gw["weight"], gw_ref["weight"])


@pytest.mark.parametrize("options", [{"dilation": 2}, {"groups": 2}, {"padding": (1, 0)}, {"padding_mode": "reflect"},
                                     {"stride": (2, 1)}])
def test_options_the_other_forms_do_not_cover_go_to_pytorch(options):
    kwargs = {"padding": 1, "stride": 2, **options}
    mine, theirs = _pair(Conv2d, 4, 4, 3, **kwargs)
    x = torch.randn(2, 4, 9, 9, requires_grad=True)
    y = mine(x)
    assert type(y.grad_fn).__name__ != "_ConvBackward"
    assert torch.equal(y, theirs(x))


def test_a_transposed_conv_asked_for_an_output_size_goes_to_pytorch():
    mine, theirs = _pair(ConvTranspose2d, 4, 1, 4, 2, 1)
    x = torch.randn(2, 4, 7, 7, requires_grad=True)
    y = mine(x, output_size=(15, 15))
    assert y.shape[-2:] == (15, 15) and torch.equal(y, theirs(x, output_size=(15, 15)))


def test_a_gradient_penalty_differentiates_through_the_layers_again():
    """WGAN-GP and R1 take the gradient of D's gradient: the backward pass must itself be differentiable."""
    torch.manual_seed(0)
    mine = nn.Sequential(Conv2d(1, 16, 4, 2, 1), nn.LeakyReLU(0.2), Conv2d(16, 16, 4, 2, 1)).double()
    theirs = nn.Sequential(nn.Conv2d(1, 16, 4, 2, 1), nn.LeakyReLU(0.2), nn.Conv2d(16, 16, 4, 2, 1)).double()
    theirs.load_state_dict(mine.state_dict())
    x = torch.randn(3, 1, 28, 28, dtype=torch.float64)
    grads = []
    for d in (mine, theirs):
        xi = x.clone().requires_grad_(True)
        (g,) = torch.autograd.grad(d(xi).square().sum(), xi, create_graph=True)
        g.square().sum().backward()
        grads.append([p.grad for p in d.parameters()])
    for a, b in zip(*grads):
        torch.testing.assert_close(a, b, rtol=1e-9, atol=1e-12)


def test_the_layers_keep_pytorchs_parameter_names_so_checkpoints_load_either_way():
    mine, theirs = _pair(ConvTranspose2d, 8, 4, 4, 2, 1)
    assert list(mine.state_dict()) == list(theirs.state_dict()) == ["weight", "bias"]
    assert isinstance(mine, nn.ConvTranspose2d)


@pytest.mark.numerics
def test_dcgans_bf16_gradients_are_as_near_the_fp32_ones_as_with_pytorchs_kernels():
    """best's networks at a small width (spectral norm, class-conditional batch norm, the projection D), all
    parameters' gradients of one loss: bf16 with the chosen kernels is as near fp32 as bf16 with PyTorch's.
    (Element by element the two bf16 runs differ by more than one rounding: batch norm's backward pass
    amplifies the elements that round the other way, in either direction.)"""
    from gankit.models.dcgan import Discriminator, Generator
    torch.manual_seed(0)
    G = Generator((1, 28, 28), 100, 4, width=16, refine=1)
    D = Discriminator((1, 28, 28), 4, width=16, norm="spectral")
    z, labels = torch.randn(8, 100), torch.arange(8) % 4
    real = torch.rand(8, 1, 28, 28) * 2 - 1

    def gradients(kernels, bf16: bool) -> torch.Tensor:
        G.zero_grad(), D.zero_grad()
        with kernels(), torch.random.fork_rng():  # the same power-iteration vectors each time
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
                loss = D(G(z, labels), labels).float().mean() - D(real, labels).float().mean()
            loss.backward()
        return torch.cat([p.grad.flatten() for p in [*G.parameters(), *D.parameters()] if p.grad is not None])

    exact = gradients(plain_kernels, False)
    theirs, mine = gradients(plain_kernels, True), gradients(contextlib.nullcontext, True)
    distance = {name: ((g - exact).norm() / exact.norm()).item() for name, g in (("theirs", theirs), ("mine", mine))}
    assert distance["theirs"] < 0.1, distance  # bf16's own error: a few percent
    assert distance["mine"] <= 1.5 * distance["theirs"], distance
