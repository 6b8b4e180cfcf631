"""A trace through the model: it only watches unless it gates, records what it names in the
documented shapes, and its head gate ablates heads and gives their importance gradients."""

from __future__ import annotations

import pytest
import torch

from conftest import TINY, padded_batch
from engine.config import BertConfig
from engine.model import BertForPreTraining, BertForSequenceClassification
from engine.trace import RECORDABLE, Trace

CONFIG = BertConfig(vocab_size=120, **TINY)
L, N = CONFIG.num_hidden_layers, CONFIG.num_attention_heads
H, I, D = CONFIG.hidden_size, CONFIG.intermediate_size, CONFIG.head_size
B, T = 3, 9
LENGTHS = (9, 6, 4)


def batch(seed: int = 0):
    return padded_batch(CONFIG.vocab_size, LENGTHS, seed)


@pytest.fixture
def model():
    torch.manual_seed(0)
    return BertForPreTraining(CONFIG).eval()


def assert_same_outputs(a, b, atol=1e-6):
    torch.testing.assert_close(a.prediction_logits, b.prediction_logits, atol=atol, rtol=0)
    torch.testing.assert_close(a.seq_relationship_logits, b.seq_relationship_logits,
                               atol=atol, rtol=0)
    torch.testing.assert_close(a.encoder.last_hidden_state, b.encoder.last_hidden_state,
                               atol=atol, rtol=0)


def test_a_traced_forward_equals_the_untraced_one(model):
    ids, mask, types = batch()
    with torch.no_grad():
        plain = model(ids, mask, types)
        everything = model(ids, mask, types, trace=Trace(RECORDABLE, head_gate=torch.ones(L, N)))
        states_only = model(ids, mask, types, trace=Trace({"layer_input", "layer_output"}))
    assert_same_outputs(everything, plain)
    # Without probabilities the trace keeps the fast attention path: bit for bit the same.
    assert torch.equal(states_only.prediction_logits, plain.prediction_logits)


def test_each_recording_has_its_documented_shape(model):
    ids, mask, types = batch()
    rows = torch.tensor([0, 2, 5])  # the last layer computed at R = 3 rows only
    trace = Trace(RECORDABLE)
    with torch.no_grad():
        out = model.bert(ids, mask, types, last_layer_rows=rows, trace=trace)
    assert len(trace.layers) == L and out.last_hidden_state.shape == (B, 3, H)
    for i, record in enumerate(trace.layers):
        r = 3 if i == L - 1 else T
        expected = {"layer_input": (B, T, H), "queries": (B, N, T, D), "keys": (B, N, T, D),
                    "values": (B, N, T, D), "probs": (B, N, T, T), "context": (B, N, r, D),
                    "attention_dense": (B, r, H), "attention_output": (B, r, H),
                    "intermediate": (B, r, I), "ffn_dense": (B, r, H), "layer_output": (B, r, H)}
        assert set(expected) == RECORDABLE
        assert {name: tuple(getattr(record, name).shape) for name in expected} == expected


def test_recordings_are_what_they_name(model):
    ids, mask, types = batch()
    trace = Trace(RECORDABLE)
    with torch.no_grad():
        model(ids, mask, types, trace=trace)
        flagged = model(ids, mask, types, output_attentions=True, output_hidden_states=True)
    for i, (record, layer) in enumerate(zip(trace.layers, model.bert.encoder.layer)):
        torch.testing.assert_close(record.context, record.probs @ record.values)
        ln = layer.attention.output.LayerNorm
        torch.testing.assert_close(record.attention_output,
                                   ln(record.layer_input + record.attention_dense))
        torch.testing.assert_close(record.layer_output,
                                   layer.output.LayerNorm(record.attention_output
                                                          + record.ffn_dense))
        if i:
            assert record.layer_input is trace.layers[i - 1].layer_output
        torch.testing.assert_close(record.probs, flagged.encoder.attentions[i])
        torch.testing.assert_close(record.layer_output, flagged.encoder.hidden_states[i + 1])
    torch.testing.assert_close(trace.layers[0].layer_input, flagged.encoder.hidden_states[0])


def without_head(model, layer: int, head: int):
    """A forward pre-hook that zeroes one head's slice of the context entering the output
    projection of ``layer``: the ablation done by hand."""
    def zero_slice(_module, inputs):
        context = inputs[0].clone()  # [B, T, H], heads side by side
        context[..., head * D:(head + 1) * D] = 0
        return (context,)
    dense = model.bert.encoder.layer[layer].attention.output.dense
    return dense.register_forward_pre_hook(zero_slice)


@pytest.mark.parametrize("with_probs", [False, True])
def test_a_zero_gate_equals_zeroing_that_heads_context_by_hand(model, with_probs):
    ids, mask, types = batch()
    gate = torch.ones(L, N)
    gate[1, 2] = 0
    with torch.no_grad():
        plain = model(ids, mask, types)
        gated = model(ids, mask, types,
                      trace=Trace({"probs"} if with_probs else (), head_gate=gate))
        hook = without_head(model, layer=1, head=2)
        try:
            by_hand = model(ids, mask, types)
        finally:
            hook.remove()
    assert_same_outputs(gated, by_hand)
    assert (gated.encoder.last_hidden_state
            - plain.encoder.last_hidden_state).abs().max() > 1e-2  # the head mattered


def test_the_gate_gradient_matches_finite_differences():
    torch.manual_seed(0)
    model = BertForPreTraining(CONFIG).eval().double()
    ids, mask, types = batch()
    g = torch.Generator().manual_seed(1)
    start = 0.5 + torch.rand(L, N, generator=g, dtype=torch.float64)  # not just all ones
    probe = torch.randn(H, generator=g, dtype=torch.float64)

    def objective(gate: torch.Tensor) -> torch.Tensor:  # a scalar read from every real token
        hidden = model(ids, mask, types, trace=Trace(head_gate=gate)).encoder.last_hidden_state
        return (hidden[mask.bool()] @ probe).square().mean()

    gate = start.clone().requires_grad_(True)
    objective(gate).backward()
    eps = 1e-6
    numeric = torch.zeros(L, N, dtype=torch.float64)
    with torch.no_grad():
        for layer in range(L):
            for head in range(N):
                step = torch.zeros(L, N, dtype=torch.float64)
                step[layer, head] = eps
                numeric[layer, head] = (objective(start + step)
                                        - objective(start - step)) / (2 * eps)
    assert numeric.abs().max() > 1e-3  # the heads matter, so the comparison means something
    torch.testing.assert_close(gate.grad, numeric, atol=1e-7, rtol=1e-5)


def test_inputs_embeds_give_the_same_outputs_as_the_ids(model):
    ids, mask, types = batch()
    embeds = model.bert.embeddings.word_embeddings(ids).detach()  # [B, T, H]
    with torch.no_grad():
        assert_same_outputs(model(inputs_embeds=embeds, attention_mask=mask,
                                  token_type_ids=types), model(ids, mask, types), atol=0)
    torch.manual_seed(0)
    classifier = BertForSequenceClassification(CONFIG).eval()
    with torch.no_grad():  # its last layer is computed at [CLS] alone either way
        own = classifier.bert.embeddings.word_embeddings(ids)
        torch.testing.assert_close(classifier(inputs_embeds=own, attention_mask=mask).logits,
                                   classifier(ids, mask).logits, atol=0, rtol=0)
    embeds.requires_grad_(True)  # the point of inputs_embeds: gradients at the input
    model(inputs_embeds=embeds, attention_mask=mask).seq_relationship_logits[:, 0].sum().backward()
    assert embeds.grad.shape == (B, T, H) and embeds.grad[0].abs().sum() > 0
    assert embeds.grad[mask == 0].abs().max() == 0  # padding feeds nothing
    with pytest.raises(ValueError, match="exactly one"):
        model(ids, inputs_embeds=embeds)
    with pytest.raises(ValueError, match="exactly one"):
        model(attention_mask=mask)


def test_gate_and_trace_leave_padding_out(model):
    """A padded sequence in a gated, traced batch gives what it gives alone."""
    ids, mask, types = batch()
    gate = torch.ones(L, N)
    gate[0, 1] = 0
    batched, alone = Trace({"probs", "context"}, head_gate=gate), Trace({"probs"},
                                                                        head_gate=gate)
    n = LENGTHS[1]
    with torch.no_grad():
        a = model(ids, mask, types, trace=batched)
        b = model(ids[1:2, :n], mask[1:2, :n], types[1:2, :n], trace=alone)
    torch.testing.assert_close(a.prediction_logits[1, :n], b.prediction_logits[0],
                               atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(a.seq_relationship_logits[1], b.seq_relationship_logits[0],
                               atol=1e-5, rtol=1e-5)
    for with_pad, without in zip(batched.layers, alone.layers):
        torch.testing.assert_close(with_pad.probs[1, :, :n, :n], without.probs[0],
                                   atol=1e-5, rtol=1e-5)
        assert with_pad.probs[mask[:, None, None, :].expand_as(with_pad.probs) == 0].max() == 0
    assert batched.layers[0].context[:, 1].abs().max() == 0  # the ablated head adds nothing


def test_probabilities_fill_a_buffer_on_another_dtype(model):
    ids, mask, types = batch()
    buffer = torch.zeros(L, B, N, T, T, dtype=torch.float64)
    trace = Trace(probs_out=buffer)
    with torch.no_grad():
        out = model(ids, mask, types, trace=trace)
        flagged = model(ids, mask, types, output_attentions=True)
    for i, probs in enumerate(out.encoder.attentions):
        assert probs.data_ptr() == buffer[i].data_ptr()  # one copy of the maps: the buffer
        torch.testing.assert_close(probs, flagged.encoder.attentions[i].double())


@pytest.mark.parametrize("make, message", [
    (lambda m, ids: m(ids, trace=Trace({"attention_scores"})), "cannot record"),
    (lambda m, ids: m(ids, trace=Trace(head_gate=torch.ones(N, L))), r"\[layers, heads\]"),
    (lambda m, ids: m(ids, output_attentions=True, trace=Trace()), "not both"),
])
def test_a_wrong_trace_is_refused_with_a_clear_message(model, make, message):
    with pytest.raises(ValueError, match=message):
        make(model, batch()[0])
