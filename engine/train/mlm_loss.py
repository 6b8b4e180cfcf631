"""The masked-LM loss and hit count over [M, V] logits in one pass, without a float32 copy of
the logits.

``F.cross_entropy(logits.float(), targets)`` plus ``argmax`` (the code before) writes the logits
again in float32, then their log-probabilities, then a float32 gradient that autocast casts back
to bf16, and reads them all once more for the hits: five [M, V] passes over memory for one
number. Here rows are taken a block at a time (a block fits in cache), converted to float32
there, and the loss is minus the log-softmax at the target summed in float32, so the value is
the one ``F.cross_entropy`` gives, up to the order of float32 sums. The backward recomputes the
softmax block by block and writes the gradient once, in the logits' own dtype.
"""

from __future__ import annotations

import torch

BLOCK_BYTES = 4 << 20  # float32 bytes of one block of rows (on a CPU; a GPU takes all rows)


def _block_rows(logits: torch.Tensor) -> int:
    if logits.device.type != "cpu":
        return max(logits.shape[0], 1)
    return max(BLOCK_BYTES // (4 * max(logits.shape[1], 1)), 1)


class _SummedCrossEntropy(torch.autograd.Function):
    @staticmethod
    def forward(ctx, logits: torch.Tensor, targets: torch.Tensor):
        rows = _block_rows(logits)
        total = torch.zeros((), dtype=torch.float32, device=logits.device)
        hits = torch.zeros((), dtype=torch.long, device=logits.device)
        with torch.autocast(logits.device.type, enabled=False):
            for lo in range(0, logits.shape[0], rows):
                block = logits[lo:lo + rows].float()                     # [r, V]
                picked = targets[lo:lo + rows, None]                     # [r, 1]
                total -= torch.log_softmax(block, -1).gather(1, picked).sum()
                hits += (block.argmax(-1, keepdim=True) == picked).sum()
        ctx.save_for_backward(logits, targets)
        ctx.mark_non_differentiable(hits)
        return total, hits

    @staticmethod
    def backward(ctx, grad_total: torch.Tensor, _grad_hits):
        logits, targets = ctx.saved_tensors
        rows = _block_rows(logits)
        grad = torch.empty_like(logits)
        with torch.autocast(logits.device.type, enabled=False):
            for lo in range(0, logits.shape[0], rows):
                probs = torch.softmax(logits[lo:lo + rows].float(), -1)  # [r, V]
                picked = targets[lo:lo + rows]
                probs[torch.arange(picked.shape[0], device=probs.device), picked] -= 1.0
                grad[lo:lo + rows] = probs.mul_(grad_total)
        return grad, None


def mlm_loss_and_hits(logits: torch.Tensor, targets: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """logits [M, V] (any float dtype), targets [M] (every one a real token id) ->
    (summed cross-entropy, float32 scalar with a gradient; how many rows' argmax is the target)."""
    if logits.shape[0] == 0:
        zero = logits.float().sum()
        return zero, torch.zeros((), dtype=torch.long, device=logits.device)
    return _SummedCrossEntropy.apply(logits, targets)
