"""DiffAugment: its geometry, its randomness and the gradients it passes."""

import pytest
import torch
from torch import nn

from gankit.infra.errors import GankitError
from gankit.training.diffaugment import diff_augment

POLICY_LIST = ["color", "translation", "cutout", "translation,cutout", "color,translation,cutout"]


@pytest.mark.parametrize("policy", POLICY_LIST)
@pytest.mark.parametrize("shape", [(4, 1, 28, 28), (4, 3, 32, 32), (2, 3, 17, 24)])
def test_augment_keeps_shape_dtype_and_passes_gradients(policy, shape):
    x = (torch.rand(shape, generator=torch.Generator().manual_seed(0), dtype=torch.float64) * 2 - 1).requires_grad_(True)
    out = diff_augment(x, policy, torch.Generator().manual_seed(1))
    assert out.shape == x.shape and out.dtype == x.dtype
    weights = torch.randn(shape, generator=torch.Generator().manual_seed(2), dtype=torch.float64)
    (out * weights).sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0


def test_augment_gradients_reach_the_generator():
    G = nn.Linear(8, 3 * 8 * 8)
    fake = torch.tanh(G(torch.randn(4, 8))).view(4, 3, 8, 8)
    diff_augment(fake, "color,translation,cutout", torch.Generator().manual_seed(0)).square().sum().backward()
    assert G.weight.grad is not None and G.weight.grad.abs().sum() > 0


def test_translation_moves_a_bright_pixel_by_at_most_an_eighth_and_fills_with_zero():
    n, h, w, r, c = 200, 28, 28, 13, 9
    x = torch.full((n, 1, h, w), 0.5)
    x[:, 0, r, c] = 1.0
    out = diff_augment(x, "translation", torch.Generator().manual_seed(0))
    bound = 4  # round(28 / 8)
    shifts = set()
    for img in out[:, 0]:
        (pos,) = (img == 1.0).nonzero().tolist()
        dy, dx = pos[0] - r, pos[1] - c
        assert abs(dy) <= bound and abs(dx) <= bound
        shifts.add((dy, dx))
        # the whole image moved by (dy, dx), the uncovered border is 0
        expected = torch.zeros(h + 2 * bound, w + 2 * bound)
        expected[bound + dy:bound + dy + h, bound + dx:bound + dx + w] = x[0, 0]
        assert torch.equal(img, expected[bound:bound + h, bound:bound + w])
    assert {abs(dy) for dy, _ in shifts} == set(range(bound + 1))  # every shift up to the bound occurs
    assert {abs(dx) for _, dx in shifts} == set(range(bound + 1))


def test_translation_is_exact_under_bf16_autocast_and_its_gradient_moves_back():
    # fp32 pixels that bf16 cannot hold: an autocast product would round them
    x = (torch.rand(16, 3, 24, 24, generator=torch.Generator().manual_seed(0)) * 2 - 1).requires_grad_(True)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = diff_augment(x, "translation", torch.Generator().manual_seed(1))
    assert out.dtype == torch.float32
    weights = torch.rand(x.shape, generator=torch.Generator().manual_seed(2))
    (out * weights).sum().backward()
    for img, moved, weight, grad in zip(x.detach(), out.detach(), weights, x.grad):
        shifts = [(dy, dx) for dy in range(-3, 4) for dx in range(-3, 4)
                  if torch.equal(moved, _moved(img, dy, dx))]
        assert len(shifts) == 1  # every output is the input moved by one whole-pixel shift, bit for bit
        (dy, dx), = shifts
        assert torch.equal(grad, _moved(weight, -dy, -dx))  # and each input pixel gets its output's weight


def _moved(img: torch.Tensor, dy: int, dx: int) -> torch.Tensor:
    """img with out[i, j] = img[i + dy, j + dx], 0 off the image."""
    h, w = img.shape[-2:]
    out = torch.zeros_like(img)
    out[..., max(0, -dy):h - max(0, dy), max(0, -dx):w - max(0, dx)] = \
        img[..., max(0, dy):h + min(0, dy), max(0, dx):w + min(0, dx)]
    return out


def test_cutout_zeroes_one_square_of_half_the_side_clipped_at_the_edges():
    n, h = 300, 28
    x = -torch.ones(n, 1, h, h)  # black in [-1, 1]: the hole shows as 0 (mid-gray), not as more black
    out = diff_augment(x, "cutout", torch.Generator().manual_seed(0))
    assert set(out.unique().tolist()) == {-1.0, 0.0}
    full = 0
    for img in out[:, 0]:
        hole = img == 0
        rows, cols = hole.any(1).nonzero().flatten(), hole.any(0).nonzero().flatten()
        top, bottom, left, right = int(rows.min()), int(rows.max()) + 1, int(cols.min()), int(cols.max()) + 1
        assert hole.sum() == (bottom - top) * (right - left) and hole[top:bottom, left:right].all()  # a rectangle
        assert bottom - top <= h // 2 and right - left <= h // 2
        if top > 0 and left > 0 and bottom < h and right < h:
            assert hole.sum() == (h // 2) ** 2  # 196: the whole square where no edge clips it
            full += 1
    assert 0 < full < n


def test_color_draws_brightness_and_contrast_only_for_one_channel():
    x = torch.rand(6, 1, 8, 8, generator=torch.Generator().manual_seed(0)) * 2 - 1
    out = diff_augment(x, "color", torch.Generator().manual_seed(3))
    gen = torch.Generator().manual_seed(3)
    brightness, contrast = torch.rand(6, 1, 1, 1, generator=gen), torch.rand(6, 1, 1, 1, generator=gen)
    y = x + brightness - 0.5
    mean = y.mean(dim=(1, 2, 3), keepdim=True)
    assert torch.allclose(out, (y - mean) * (contrast + 0.5) + mean, atol=1e-6)


def test_color_adds_saturation_for_three_channels():
    x = torch.rand(6, 3, 8, 8, generator=torch.Generator().manual_seed(0)) * 2 - 1
    out = diff_augment(x, "color", torch.Generator().manual_seed(3))
    gen = torch.Generator().manual_seed(3)
    b, s, c = (torch.rand(6, 1, 1, 1, generator=gen) for _ in range(3))
    y = x + b - 0.5
    y = (y - y.mean(1, keepdim=True)) * (2 * s) + y.mean(1, keepdim=True)
    mean = y.mean(dim=(1, 2, 3), keepdim=True)
    assert torch.allclose(out, (y - mean) * (c + 0.5) + mean, atol=1e-6)


def test_same_seed_same_augmentation_other_seed_other():
    x = torch.rand(8, 3, 16, 16, generator=torch.Generator().manual_seed(0)) * 2 - 1
    policy = "color,translation,cutout"
    a = diff_augment(x, policy, torch.Generator().manual_seed(5))
    b = diff_augment(x, policy, torch.Generator().manual_seed(5))
    c = diff_augment(x, policy, torch.Generator().manual_seed(6))
    assert torch.equal(a, b) and not torch.equal(a, c)
    torch.manual_seed(5)
    d = diff_augment(x, policy)
    torch.manual_seed(5)
    assert torch.equal(d, diff_augment(x, policy))  # without a generator: the global one


def test_empty_policy_is_identity_and_unknown_policy_a_one_line_error():
    x = torch.rand(2, 1, 8, 8)
    assert diff_augment(x, "") is x
    with pytest.raises(GankitError, match="unknown DiffAugment policy 'flip'.*color, translation, cutout") as err:
        diff_augment(x, "translation,flip")
    assert "\n" not in str(err.value)
    with pytest.raises(GankitError, match=r"\(N, C, H, W\)"):
        diff_augment(torch.rand(8, 8), "cutout")
