"""Device choice, the bf16 warning and `--precision auto`: bf16 on an x86 CPU without bf16 instructions is
emulated and many times slower than fp32 (benchmarks/README.md), so a run that asks for it there says so in its
log, and `auto` picks bf16 only where it is fast."""

import platform

import pytest
import torch

from gankit.infra import checkpoint
from gankit.infra.device import bf16_warning, cpu_flags, cuda_bf16_is_native, resolve_precision
from gankit.training import loop as engine
from gankit.training.config import TrainConfig
from tests.helpers import small_config, weights

CPU = torch.device("cpu")


def test_cpu_flags_are_read_from_cpuinfo(tmp_path):
    info = tmp_path / "cpuinfo"
    info.write_text("processor\t: 0\nmodel name\t: Some CPU\nflags\t\t: fpu sse avx2 avx512f avx512_bf16\n\n")
    assert cpu_flags(info) == {"fpu", "sse", "avx2", "avx512f", "avx512_bf16"}
    arm = tmp_path / "cpuinfo-arm"
    arm.write_text("processor\t: 0\nBogoMIPS\t: 50.00\nFeatures\t: fp asimd bf16\n")
    assert cpu_flags(arm) == {"fp", "asimd", "bf16"}
    no_flags = tmp_path / "cpuinfo-none"
    no_flags.write_text("processor\t: 0\nmodel name\t: Some CPU\n")
    assert cpu_flags(no_flags) is None
    assert cpu_flags(tmp_path / "missing") is None


@pytest.mark.parametrize("flags, machine, precision, device, warns", [
    ({"avx2"}, "x86_64", "bf16", CPU, True),                              # x86 without bf16 products: emulated
    ({"sse4_2"}, "x86_64", "bf16", CPU, True),                            # older x86, no AVX2 either
    ({"avx2", "avx512f"}, "AMD64", "bf16", CPU, True),                    # AVX-512 alone is not enough
    ({"avx2", "avx512f", "avx512_bf16"}, "x86_64", "bf16", CPU, False),   # Zen 4, Cooper Lake and later
    ({"avx2", "amx_bf16"}, "x86_64", "bf16", CPU, False),                 # Sapphire Rapids
    ({"avx2"}, "x86_64", "fp32", CPU, False),
    ({"avx2"}, "x86_64", "bf16", torch.device("cuda"), False),
    ({"fp", "asimd"}, "aarch64", "bf16", CPU, False),                     # ARM: no claim
    (None, "x86_64", "bf16", CPU, False),                                 # flags unknown: no claim
])
def test_bf16_warning_only_where_bf16_is_emulated(flags, machine, precision, device, warns):
    message = bf16_warning(device, precision, flags, machine)
    assert (message is not None) == warns
    if warns:
        assert "--precision bf16" in message and "avx512_bf16" in message


def test_a_bf16_run_on_such_a_cpu_says_so_and_still_trains(tmp_path, blob_npz, monkeypatch):
    monkeypatch.setattr(engine, "cpu_flags", lambda: {"avx2", "avx512f"})
    monkeypatch.setattr(platform, "machine", lambda: "x86_64")
    lines = []
    run = engine.train(small_config(blob_npz, epochs=1, precision="bf16", device="cpu"), tmp_path / "run",
                       log=lines.append)
    assert run.epochs_done == 1
    assert sum("without bf16 instructions" in line for line in lines) == 1
    lines.clear()
    engine.train(small_config(blob_npz, epochs=1), tmp_path / "fp32", log=lines.append)
    assert not any("without bf16 instructions" in line for line in lines)


@pytest.mark.parametrize("flags, machine, device, resolved", [
    ({"avx2", "avx512f", "avx512_bf16"}, "x86_64", CPU, "bf16"),
    ({"avx2", "amx_bf16"}, "x86_64", CPU, "bf16"),
    ({"avx2", "avx512f"}, "x86_64", CPU, "fp32"),  # emulated there: many times slower
    ({"fp", "asimd", "bf16"}, "aarch64", CPU, "fp32"),  # not measured: the safe choice
    (None, "x86_64", CPU, "fp32"),
    ({"avx512_bf16"}, "x86_64", torch.device("mps"), "fp32"),
])
def test_auto_precision_is_bf16_only_where_bf16_is_fast(flags, machine, device, resolved):
    assert resolve_precision("auto", device, flags, machine) == resolved
    for asked in ("fp32", "bf16"):  # an explicit choice is kept, wherever
        assert resolve_precision(asked, device, flags, machine) == asked


@pytest.mark.parametrize("flags, resolved", [({"avx2", "avx512f", "avx512_bf16"}, "bf16"), ({"avx2"}, "fp32")])
def test_an_auto_run_trains_exactly_as_the_precision_it_resolves_to(tmp_path, blob_npz, monkeypatch, flags, resolved):
    monkeypatch.setattr(engine, "cpu_flags", lambda: flags)
    monkeypatch.setattr(platform, "machine", lambda: "x86_64")
    lines = []
    def run(name, precision, log=lambda s: None):
        engine.train(small_config(blob_npz, epochs=1, precision=precision, device="cpu"), tmp_path / name, log=log)

    run("auto", "auto", lines.append)
    run("explicit", resolved)
    run("other", {"bf16": "fp32", "fp32": "bf16"}[resolved])
    auto, explicit, other = (weights(tmp_path / name) for name in ("auto", "explicit", "other"))
    assert all(torch.equal(auto[k], explicit[k]) for k in auto)
    assert not all(torch.equal(auto[k], other[k]) for k in auto)  # the precision does change the weights
    assert sum(f"precision {resolved} (auto)" in line for line in lines) == 1
    assert not any("without bf16 instructions" in line for line in lines)  # auto never picks emulated bf16
    assert checkpoint.load(tmp_path / "auto" / "checkpoints" / "last.pt")["precision"] == resolved


def test_a_resume_that_resolves_auto_otherwise_says_so(tmp_path, blob_npz, monkeypatch):
    monkeypatch.setattr(platform, "machine", lambda: "x86_64")
    monkeypatch.setattr(engine, "cpu_flags", lambda: {"avx2", "avx512_bf16"})
    engine.train(small_config(blob_npz, epochs=1, precision="auto", device="cpu"), tmp_path / "run", log=lambda s: None)
    monkeypatch.setattr(engine, "cpu_flags", lambda: {"avx2"})  # the same run directory on a CPU without bf16
    lines = []
    engine.train(TrainConfig(), tmp_path / "run", resume=True, overrides={"epochs": 2}, log=lines.append)
    assert sum("trained in bf16 so far and continues in fp32" in line for line in lines) == 1
    assert checkpoint.load(tmp_path / "run" / "checkpoints" / "last.pt")["precision"] == "fp32"


@pytest.mark.parametrize("capability, rocm, native", [((7, 5), False, False), ((8, 0), False, True),
                                                     ((9, 0), False, True), ((6, 0), True, True)])
def test_only_ampere_and_newer_or_rocm_gpus_count_as_native_bf16(capability, rocm, native):
    assert cuda_bf16_is_native(capability, rocm) == native


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_auto_precision_on_this_gpu_agrees_with_torchs_native_bf16_check():
    native = torch.cuda.is_bf16_supported(including_emulation=False)
    assert resolve_precision("auto", torch.device("cuda"), None, "x86_64") == ("bf16" if native else "fp32")