"""The masked-LM loss in one pass gives what ``F.cross_entropy`` on float32 logits gives: the
summed loss, its gradient (in the logits' own dtype), and the top-1 hit count."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from engine.train import mlm_loss
from engine.train.mlm_loss import mlm_loss_and_hits


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
@pytest.mark.parametrize("block_bytes", [mlm_loss.BLOCK_BYTES, 4 * 500 * 3])  # one block; 3 rows
def test_loss_gradient_and_hits_match_cross_entropy_on_float32_logits(dtype, block_bytes,
                                                                      monkeypatch):
    monkeypatch.setattr(mlm_loss, "BLOCK_BYTES", block_bytes)
    torch.manual_seed(0)
    logits = (torch.randn(23, 500) * 4).to(dtype).requires_grad_()
    targets = torch.randint(0, 500, (23,))
    targets[:5] = logits[:5].argmax(-1)  # some hits
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=dtype == torch.bfloat16):
        total, hits = mlm_loss_and_hits(logits, targets)
    (total * 0.5).backward()
    ours = logits.grad
    logits.grad = None
    expected = F.cross_entropy(logits.float(), targets, reduction="sum")
    (expected * 0.5).backward()
    assert total.dtype == torch.float32 and ours.dtype == dtype
    torch.testing.assert_close(total, expected, rtol=1e-6, atol=1e-4)
    torch.testing.assert_close(ours.float(), logits.grad.float(), rtol=1e-2, atol=1e-6)
    assert int(hits) == int((logits.float().argmax(-1) == targets).sum()) >= 5


def test_no_masked_rows_gives_zero_loss_and_no_hits():
    logits = torch.zeros(0, 500, requires_grad=True)
    total, hits = mlm_loss_and_hits(logits, torch.zeros(0, dtype=torch.long))
    total.backward()
    assert float(total) == 0.0 and int(hits) == 0
