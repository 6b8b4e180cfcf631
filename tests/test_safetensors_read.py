"""Our safetensors reader: same tensors as the reference library, private aligned memory."""

from __future__ import annotations

import subprocess
import sys

import pytest
import torch
from safetensors.torch import load_file, save_file

from engine.safetensors_read import SafetensorsFormatError, read_safetensors


@pytest.fixture
def mixed_file(tmp_path):
    torch.manual_seed(0)
    tensors = {
        "f32": torch.randn(7, 3), "f16": torch.randn(5).half(), "bf16": torch.randn(2, 9).bfloat16(),
        "i64": torch.arange(11), "bool": torch.tensor([True, False, True]),
        "scalar": torch.tensor(3.5), "empty": torch.zeros(0, 4), "u8": torch.arange(13, dtype=torch.uint8),
    }
    path = tmp_path / "mixed.safetensors"
    save_file(tensors, path, metadata={"format": "pt"})
    return path


def test_reads_every_dtype_exactly_like_the_reference(mixed_file):
    ours, theirs = read_safetensors(mixed_file), load_file(mixed_file)
    assert ours.keys() == theirs.keys()
    for name in ours:
        assert ours[name].dtype == theirs[name].dtype and ours[name].shape == theirs[name].shape
        assert torch.equal(ours[name], theirs[name]), name


def test_every_tensor_has_its_own_aligned_writable_memory(mixed_file):
    tensors = read_safetensors(mixed_file)
    for name, t in tensors.items():
        if t.numel():
            assert t.data_ptr() % 64 == 0, name
    tensors["f32"].add_(1)  # writable, and nothing else changes with it
    assert torch.equal(tensors["i64"], torch.arange(11))


@pytest.mark.slow
def test_parameters_survive_the_file_being_rewritten_in_place(hf_pretraining_dir, tmp_path):
    """``save_pretrained`` truncates and rewrites model.safetensors in place; a mapped model
    would die of SIGBUS, so this runs in its own process."""
    import shutil

    folder = shutil.copytree(hf_pretraining_dir, tmp_path / "m")
    code = (
        "import sys, torch\n"
        "from engine.checkpoint import load_checkpoint\n"
        "ckpt = load_checkpoint(sys.argv[1])\n"
        "open(sys.argv[1] + '/model.safetensors', 'wb').close()\n"
        "with torch.no_grad():\n"
        "    out = ckpt.model(torch.tensor([[2, 1000, 2000, 3]]))\n"
        "print(float(out.seq_relationship_logits.abs().sum()) > 0)\n")
    run = subprocess.run([sys.executable, "-c", code, str(folder)], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr[-2000:]
    assert run.stdout.strip() == "True"


@pytest.mark.parametrize("damage, message", [
    (lambda b: b[:4], "shorter than a header"),
    (lambda b: b[:-3], "truncated"),
    (lambda b: b[:8] + b"{not json" + b[17:], "not valid JSON"),
    (lambda b: (10**12).to_bytes(8, "little") + b[8:], "header claims"),
])
def test_damaged_files_are_refused_with_the_reason(mixed_file, damage, message):
    mixed_file.write_bytes(damage(mixed_file.read_bytes()))
    with pytest.raises(SafetensorsFormatError, match=message):
        read_safetensors(mixed_file)
