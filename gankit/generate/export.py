"""`gankit export RUN`: a run's generator as a file other programs run without gankit: ONNX or TorchScript.

The exported function is G alone, with the EMA weights where the run kept them, in eval mode (batch norm uses
its running statistics, so a sample does not depend on the rest of its batch):

    images = G(z)            z: (N, z_dim) float32 standard normal noise
    images = G(z, labels)    a conditional run: labels (N,) int64 class indices
    images: (N, C, H, W) float32 in [-1, 1]; (images + 1) * 127.5 gives pixels

A self-conditioned G (`best`) reads its cluster from z[:, 0] inside the exported graph, so it takes noise alone
and draws the clusters at their training shares, as `gankit sample` does. The batch dimension is dynamic unless
`batch` fixes it.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import torch
from torch import nn

from gankit.generate.sample import TrainedGenerator
from gankit.infra.errors import GankitError, describe
from gankit.infra.io import atomic_path
from gankit.models.conv import plain_kernels

FORMATS = ("onnx", "torchscript")
OPSET = 17


class _Exported(nn.Module):
    def __init__(self, generator: nn.Module, conditional: bool):
        super().__init__()
        self.generator, self.conditional = generator, conditional

    def forward(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        return self.generator(z, labels) if self.conditional else self.generator(z)


def example_inputs(g: TrainedGenerator, batch: int = 2) -> tuple[torch.Tensor, ...]:
    z = torch.randn(batch, g.config.z_dim, generator=torch.Generator().manual_seed(0))
    return (z, torch.arange(batch) % g.num_classes) if g.num_classes else (z,)


def export(g: TrainedGenerator, out: str | Path, fmt: str | None = None, batch: int | None = None) -> Path:
    """Write g's generator to `out` (format from `fmt`, else from the suffix: .onnx or .pt)."""
    out = Path(out)
    fmt = fmt or {".onnx": "onnx", ".pt": "torchscript", ".ts": "torchscript"}.get(out.suffix)
    if fmt not in FORMATS:
        raise GankitError(f"cannot tell the export format of '{out}': pass --format onnx or torchscript, or name "
                          "the file .onnx or .pt")
    module = _Exported(g.generator.cpu().eval(), bool(g.num_classes)).eval()
    inputs = example_inputs(g, batch or 2)
    try:
        # plain kernels: the graph holds the standard convolution operators every runtime has
        with torch.no_grad(), plain_kernels(), warnings.catch_warnings(), atomic_path(out) as tmp:
            warnings.simplefilter("ignore")  # the exporters' deprecation and tracer notes are not the user's
            if fmt == "torchscript":
                torch.jit.trace(module, inputs).save(str(tmp))
            else:
                _onnx(module, inputs, tmp, dynamic=batch is None)
    except GankitError:
        raise
    except Exception as exc:  # noqa: BLE001 - exporters fail in many ways; each is one line for the user
        raise GankitError(f"exporting {g.run_dir} to {fmt} failed ({describe(exc)}): try --format "
                          f"{'torchscript' if fmt == 'onnx' else 'onnx'}") from None
    return out


def _onnx(module: nn.Module, inputs: tuple[torch.Tensor, ...], path: Path, dynamic: bool) -> None:
    names = ["z", "labels"][:len(inputs)]
    axes = {name: {0: "batch"} for name in names} | {"images": {0: "batch"}} if dynamic else None
    torch.onnx.export(module, inputs, str(path), input_names=names, output_names=["images"], dynamic_axes=axes,
                      opset_version=OPSET, dynamo=False)


def max_difference(g: TrainedGenerator, path: str | Path, fmt: str, n: int = 16) -> float | None:
    """The largest |exported - torch| over n noise vectors (and labels); None where onnxruntime is missing."""
    inputs = example_inputs(g, n)
    with torch.no_grad():
        expected = _Exported(g.generator.cpu().eval(), bool(g.num_classes)).eval()(*inputs)
        if fmt == "torchscript":
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", FutureWarning)  # TorchScript's deprecation: the file still loads
                got = torch.jit.load(str(path))(*inputs)
        else:
            try:
                import onnxruntime
            except ImportError:
                return None
            session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
            feed = {i.name: x.numpy() for i, x in zip(session.get_inputs(), inputs)}
            got = torch.from_numpy(session.run(None, feed)[0])
    return float((got - expected).abs().max())
