"""Domain classifiers for MNIST and Fashion-MNIST: the feature network of their image metrics.

Inception-v3 was trained on photographs and sees a 28x28 digit, upscaled to 299x299, as an odd
picture; a small CNN trained on the data set itself measures what matters there (is it a good 7?),
and is ~1000x cheaper. gankit trains them itself (`python -m gankit.metrics.train_domain`) and ships
the weights in gankit/metrics/weights/NAME.safetensors; each file is checked against the SHA-256
pinned below before it is read, so a metric always comes from the network its number names.

    clf = load_domain_classifier("mnist")
    feats, probs = clf.extract(images)     # (N, 128) features, (N, 10) class probabilities

The network (7.6 M multiply-adds per image, 0.36 M parameters):

    conv 5x5 stride 2, 1 -> 32, BN, ReLU                       28x28 -> 14x14
    conv 3x3, 32 -> 64, BN, max-pool 2, ReLU                   14x14 -> 7x7
    conv 3x3, 64 -> 128, BN, max-pool 2 (ceil), ReLU           7x7 -> 4x4
    linear 2048 -> 128                                         the features
    ReLU, dropout 0.25 (training only), linear 128 -> 10       the logits; softmax gives the probabilities

The features are the 128 outputs of the penultimate linear layer before its ReLU: after it, units
that are off for a whole class would be constant zeros, which makes the feature covariance that FID
fits singular. Pooling comes before the ReLU, which gives the same numbers as after (ReLU is
monotone) on a quarter of the values. The stride-2 first layer is what makes training fit in minutes
on a CPU: a 3x3 stride-1 layer at 28x28 costs six times as much to train.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import safetensors.torch
import torch
from torch import nn

from gankit.infra.device import resolve_device
from gankit.infra.errors import GankitError
from gankit.metrics.extractor import check_images, read_verified, unit_range_batches

WEIGHTS_DIR = Path(__file__).resolve().parent / "weights"
ARCH = "gankit-domain-cnn-v1"  # stored in each file's metadata; change with the architecture
FEATURE_DIM = 128
NUM_CLASSES = 10
IMAGE_SHAPE = (1, 28, 28)

# SHA-256 of the shipped weights, as train_domain.py printed them. A retrained file gets a new hash,
# pinned here by hand: the numbers of a metric change with the network, so a new one must be deliberate.
SHA256: dict[str, str] = {
    "mnist": "cd1fefeb340fce424f9b5d4e3e588aa659eaa78208f068d1183c90ae816e4d07",
    "fashion-mnist": "53da24669399e7ab3a35ed7066fcdec28c196932bde6c57b0500cce0418a1daf",
}


class DomainNet(nn.Module):
    """The classifier itself; see the module docstring. Takes float images in [-1, 1]."""

    def __init__(self, num_classes: int = NUM_CLASSES):
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(1, 32, 5, stride=2, padding=2, bias=False), nn.BatchNorm2d(32), nn.ReLU(inplace=True),
            nn.Conv2d(32, 64, 3, padding=1, bias=False), nn.BatchNorm2d(64), nn.MaxPool2d(2),
            nn.ReLU(inplace=True),
            # ceil_mode: 7x7 -> 4x4 keeps the last row and column, where Fashion-MNIST's items still are
            nn.Conv2d(64, 128, 3, padding=1, bias=False), nn.BatchNorm2d(128), nn.MaxPool2d(2, ceil_mode=True),
            nn.ReLU(inplace=True),
            nn.Flatten(),
            nn.Linear(128 * 4 * 4, FEATURE_DIM),
        )
        # Not in place: the ReLU's input is the features, which the caller keeps.
        self.head = nn.Sequential(nn.ReLU(), nn.Dropout(0.25), nn.Linear(FEATURE_DIM, num_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.body(x))

    def features_and_logits(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        features = self.body(x)
        return features, self.head(features)


class DomainClassifier:
    """A verified domain network in eval mode, ready to extract features and class probabilities."""

    def __init__(self, net: DomainNet, dataset: str, sha256: str, device: torch.device):
        self.net = net.eval().to(device, memory_format=torch.channels_last)  # faster convolutions on CPU
        self.dataset = dataset
        self.name = f"domain-{dataset}"
        self.sha256 = sha256
        self.device = device
        self.feature_dim = FEATURE_DIM
        self.num_classes = net.head[-1].out_features

    def extract(self, images: torch.Tensor | np.ndarray, batch_size: int = 256) -> tuple[torch.Tensor, torch.Tensor]:
        """(features (N, 128), class probabilities (N, 10)), float32 on the CPU, for uint8 images in
        [0, 255] or float images in [-1, 1], shape (N, 1, 28, 28)."""
        x = check_images(images, f"the {self.dataset} classifier")
        if tuple(x.shape[1:]) != IMAGE_SHAPE:
            c, h, w = x.shape[1:]
            raise GankitError(f"the {self.dataset} classifier takes 1x28x28 images, got {c}x{h}x{w}: "
                              "use --features inception for images of another shape")
        features, probs = [], []
        with torch.inference_mode():
            for batch in unit_range_batches(x, batch_size, self.device):
                f, logits = self.net.features_and_logits(batch)
                features.append(f.float().cpu())
                probs.append(torch.softmax(logits.float(), dim=1).cpu())
        return torch.cat(features), torch.cat(probs)


def domain_datasets() -> list[str]:
    """The data sets that have a domain network."""
    return sorted(SHA256)


def weights_path(dataset: str) -> Path:
    return WEIGHTS_DIR / f"{dataset}.safetensors"


def load_domain_classifier(dataset: str, device: str | torch.device = "cpu", *, path: str | Path | None = None,
                           sha256: str | None = None) -> DomainClassifier:
    """The shipped classifier of `dataset` (mnist, fashion-mnist), its file checked against the pinned
    SHA-256 before it is read. `path` and `sha256` (both or neither) load another file, e.g. a retrained one."""
    if (path is None) != (sha256 is None):
        raise GankitError("give both path and sha256 to load a domain classifier from a file of your own, or neither")
    if path is None:
        if dataset not in SHA256:
            raise GankitError(f"no domain network for '{dataset}': gankit has one for "
                              f"{' and '.join(domain_datasets())}; use --features inception for other data")
        path, sha256 = weights_path(dataset), SHA256[dataset]
        if not sha256:
            raise GankitError(f"no SHA-256 pinned for the {dataset} classifier: run `python -m "
                              f"gankit.metrics.train_domain --dataset {dataset}` and pin the hash it prints "
                              "in gankit/metrics/domain.py")
    assert sha256 is not None
    tensors = _read_weights(Path(path), sha256, dataset)
    net = DomainNet(num_classes=_num_classes(tensors, path))
    try:
        net.load_state_dict(tensors)
    except RuntimeError:
        raise GankitError(f"{path} holds another network than gankit's {ARCH}: "
                          "use weights written by gankit.metrics.train_domain") from None
    return DomainClassifier(net, dataset, sha256.lower(), resolve_device(str(device)))


def _read_weights(path: Path, sha256: str, dataset: str) -> dict[str, torch.Tensor]:
    fix = (f"reinstall gankit (pip install --force-reinstall gankit), or re-train it with `python -m "
           f"gankit.metrics.train_domain --dataset {dataset}` and pin the sha256 it prints in gankit/metrics/domain.py")
    data = read_verified(path, sha256, f"the {dataset} classifier's weights", fix)
    try:
        return safetensors.torch.load(data)
    except Exception as exc:  # noqa: BLE001 - the parser raises several types; any means "not weights"
        raise GankitError(f"{path} is not a safetensors file ({type(exc).__name__}): {fix}") from None


def _num_classes(tensors: dict[str, torch.Tensor], path: str | Path) -> int:
    last = tensors.get("head.2.weight")
    if last is None or last.ndim != 2:
        raise GankitError(f"{path} holds another network than gankit's {ARCH}: "
                          "use weights written by gankit.metrics.train_domain")
    return int(last.shape[0])
