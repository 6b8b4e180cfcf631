"""BERT in PyTorch: embeddings, encoder, pooler, pre-training heads and task heads.

Module and parameter names follow HuggingFace ``modeling_bert`` exactly
(``bert.encoder.layer.0.attention.self.query.weight``, ``cls.predictions.bias``, ...), so a
``transformers`` state dict loads with ``load_state_dict`` and ours loads back into it.

Shapes: B batch, T sequence length, H hidden size, N heads, D head size (H = N * D), V vocab,
M number of selected (e.g. masked) positions in the whole batch.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from engine.config import BertConfig
from engine.cpu_attention import context_per_head, per_head_wanted, softmax_scores_per_head
from engine.trace import LayerRecord, Trace

IGNORE_INDEX = -100  # MLM / token labels that take no part in the loss (HF convention)

_ACTIVATIONS = {
    "gelu": F.gelu,  # exact erf GELU, as in the original BERT
    "gelu_new": lambda x: F.gelu(x, approximate="tanh"),
    "gelu_pytorch_tanh": lambda x: F.gelu(x, approximate="tanh"),
    "relu": F.relu,
    "silu": F.silu,
    "swish": F.silu,
    "tanh": torch.tanh,
}


@dataclass
class EncoderOutput:
    last_hidden_state: torch.Tensor               # [B, T, H]
    pooler_output: torch.Tensor | None            # [B, H], tanh(dense([CLS]))
    hidden_states: tuple[torch.Tensor, ...] | None  # L + 1 of [B, T, H], embeddings first
    attentions: tuple[torch.Tensor, ...] | None     # L of [B, N, T, T], rows sum to 1


@dataclass
class PreTrainingOutput:
    loss: torch.Tensor | None
    mlm_loss: torch.Tensor | None
    nsp_loss: torch.Tensor | None
    prediction_logits: torch.Tensor | None        # [B, T, V], or [M, V] at the selected positions
    seq_relationship_logits: torch.Tensor | None  # [B, 2]; 0 = IsNext, 1 = NotNext
    encoder: EncoderOutput


@dataclass
class TaskOutput:
    loss: torch.Tensor | None
    logits: torch.Tensor  # sequence: [B, labels]; token: [B, T, labels]; QA: [B, T, 2]
    encoder: EncoderOutput


def extended_attention_mask(attention_mask: torch.Tensor | None) -> torch.Tensor | None:
    """[B, T] of 1 (token) / 0 (padding) -> [B, 1, 1, T] bool, True where a key may be attended."""
    if attention_mask is None:
        return None
    return attention_mask[:, None, None, :].bool()


def attention_probs(q: torch.Tensor, k: torch.Tensor, key_mask: torch.Tensor | None,
                    slot: torch.Tensor | None = None) -> torch.Tensor:
    """q, k [B, N, T, D], key_mask [B, 1, 1, T] bool -> softmax(q k^T / sqrt(D)) over the keys,
    [B, N, T, T], masked keys 0.

    Without autograd the scores are written into ``slot`` (the trace's [B, N, T, T] view of the
    maps buffer, when its dtype is q's) or one new tensor, and masked and normalised there in
    place: at 512 tokens the scores, their scaled copy, the softmax output and its copy into the
    buffer were four [N, T, T] tensors per layer (16 MB each for 16 heads), allocated, faulted in
    and written in turn. The scale is applied after the product, as on the autograd path (on q
    instead, a scale that is not a power of two, D = 32, moves the scores by an ulp, and bf16's
    rounding of later inputs turns that into different maps: the probe's largest bf16
    difference went from 0.0220 to 0.0227).
    """
    scale = q.shape[-1] ** -0.5
    if torch.is_grad_enabled() and (q.requires_grad or k.requires_grad):
        scores = torch.matmul(q, k.transpose(-1, -2)) * scale  # [B, N, T, T]
        if key_mask is not None:
            scores = scores.masked_fill(~key_mask, torch.finfo(scores.dtype).min)
        return torch.softmax(scores, dim=-1)
    if slot is None or slot.dtype != q.dtype:
        slot = q.new_empty(*q.shape[:-1], k.shape[-2])
    if per_head_wanted(q, k):  # long inputs: oneDNN, one head at a time
        return softmax_scores_per_head(q, k, scale, key_mask, slot)
    scores = torch.matmul(q, k.transpose(-1, -2), out=slot).mul_(scale)  # [B, N, T, T]
    if key_mask is not None:
        scores.masked_fill_(~key_mask, torch.finfo(scores.dtype).min)
    return torch.ops.aten._softmax.out(scores, -1, False, out=scores)


class BertEmbeddings(nn.Module):
    def __init__(self, config: BertConfig):
        super().__init__()
        self.word_embeddings = nn.Embedding(config.vocab_size, config.hidden_size,
                                            padding_idx=config.pad_token_id)
        self.position_embeddings = nn.Embedding(config.max_position_embeddings, config.hidden_size)
        self.token_type_embeddings = nn.Embedding(config.type_vocab_size, config.hidden_size)
        self.LayerNorm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.dropout = nn.Dropout(config.hidden_dropout_prob)

    def forward(self, input_ids: torch.Tensor | None = None,
                token_type_ids: torch.Tensor | None = None,
                position_ids: torch.Tensor | None = None,
                inputs_embeds: torch.Tensor | None = None) -> torch.Tensor:
        """input_ids [B, T], or inputs_embeds [B, T, H] in place of the word embeddings (position
        and token-type embeddings are still added) -> [B, T, H]."""
        if (input_ids is None) == (inputs_embeds is None):
            raise ValueError("pass exactly one of input_ids and inputs_embeds")
        words = self.word_embeddings(input_ids) if inputs_embeds is None else inputs_embeds
        batch, seq_len = words.shape[:2]
        if position_ids is None:
            position_ids = torch.arange(seq_len, device=words.device)[None, :]  # [1, T]
        if token_type_ids is None:
            token_type_ids = torch.zeros(batch, seq_len, dtype=torch.long, device=words.device)
        x = (words + self.token_type_embeddings(token_type_ids)
             + self.position_embeddings(position_ids))  # [B, T, H]
        return self.dropout(self.LayerNorm(x))


class BertSelfAttention(nn.Module):
    def __init__(self, config: BertConfig):
        super().__init__()
        self.num_heads = config.num_attention_heads
        self.head_size = config.head_size
        self.query = nn.Linear(config.hidden_size, config.hidden_size)
        self.key = nn.Linear(config.hidden_size, config.hidden_size)
        self.value = nn.Linear(config.hidden_size, config.hidden_size)
        self.dropout = nn.Dropout(config.attention_probs_dropout_prob)

    def _heads(self, x: torch.Tensor) -> torch.Tensor:
        batch, seq_len, _ = x.shape
        return x.view(batch, seq_len, self.num_heads, self.head_size).transpose(1, 2)  # [B, N, T, D]

    def forward(self, x: torch.Tensor, key_mask: torch.Tensor | None,
                query_rows: torch.Tensor | None = None,
                record: LayerRecord | None = None) -> torch.Tensor:
        """x [B, T, H], key_mask [B, 1, 1, T] bool -> context [B, T, H].

        ``query_rows`` (indices into T) restricts the context to those rows, [B, R, H]; recorded
        probabilities still cover every row, because the caller asked for them.
        """
        q, k, v = self._heads(self.query(x)), self._heads(self.key(x)), self._heads(self.value(x))
        if record is not None:
            record.save("queries", q)
            record.save("keys", k)
            record.save("values", v)
        if record is None or not record.wants("probs"):
            if query_rows is not None:
                q = q[:, :, query_rows]
            context = F.scaled_dot_product_attention(
                q, k, v, attn_mask=key_mask,
                dropout_p=self.dropout.p if self.training else 0.0)  # [B, N, R, D]
        else:
            probs = attention_probs(q, k, key_mask, record.probs_out)  # [B, N, T, T]
            record.save_probs(probs)
            used = self.dropout(probs if query_rows is None else probs[:, :, query_rows])
            context = (context_per_head(used, v) if per_head_wanted(used, v)
                       else torch.matmul(used, v))  # [B, N, R, D]
        if record is not None:
            context = record.gated(context)
        batch, _, rows, _ = context.shape
        return context.transpose(1, 2).reshape(batch, rows, -1)


class BertResidualOutput(nn.Module):
    """dense -> dropout -> + residual -> LayerNorm; after attention (in = H) and FFN (in = I).

    ``recorded_as`` names the ``LayerRecord`` fields for the dense output and the result.
    """

    def __init__(self, config: BertConfig, in_features: int, recorded_as: tuple[str, str]):
        super().__init__()
        self.dense = nn.Linear(in_features, config.hidden_size)
        self.LayerNorm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.dropout = nn.Dropout(config.hidden_dropout_prob)
        self.recorded_as = recorded_as

    def forward(self, x: torch.Tensor, residual: torch.Tensor,
                record: LayerRecord | None = None) -> torch.Tensor:
        update = self.dropout(self.dense(x))  # [B, T, H]
        out = self.LayerNorm(update + residual)
        if record is not None:
            record.save(self.recorded_as[0], update)
            record.save(self.recorded_as[1], out)
        return out


class BertAttention(nn.Module):
    def __init__(self, config: BertConfig):
        super().__init__()
        self.self = BertSelfAttention(config)
        self.output = BertResidualOutput(config, config.hidden_size,
                                         ("attention_dense", "attention_output"))

    def forward(self, x, key_mask, query_rows=None, record=None):
        context = self.self(x, key_mask, query_rows, record)
        residual = x if query_rows is None else x[:, query_rows]
        return self.output(context, residual, record)


class BertIntermediate(nn.Module):
    def __init__(self, config: BertConfig):
        super().__init__()
        self.dense = nn.Linear(config.hidden_size, config.intermediate_size)
        self.intermediate_act_fn = _ACTIVATIONS[config.hidden_act]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.intermediate_act_fn(self.dense(x))  # [B, T, I]


class BertLayer(nn.Module):
    def __init__(self, config: BertConfig):
        super().__init__()
        self.attention = BertAttention(config)
        self.intermediate = BertIntermediate(config)
        self.output = BertResidualOutput(config, config.intermediate_size,
                                         ("ffn_dense", "layer_output"))

    def attend(self, x, key_mask, query_rows=None, record=None):
        """The attention block alone (residual and LayerNorm included): [B, T, H] -> [B, R, H]."""
        if record is not None:
            record.save("layer_input", x)
        return self.attention(x, key_mask, query_rows, record)

    def forward(self, x, key_mask, query_rows=None, record=None):
        attended = self.attend(x, key_mask, query_rows, record)
        inner = self.intermediate(attended)
        if record is not None:
            record.save("intermediate", inner)
        return self.output(inner, attended, record)


class BertEncoder(nn.Module):
    def __init__(self, config: BertConfig):
        super().__init__()
        self.layer = nn.ModuleList(BertLayer(config) for _ in range(config.num_hidden_layers))

    def forward(self, x: torch.Tensor, key_mask: torch.Tensor | None,
                last_layer_rows: torch.Tensor | None = None,
                trace: Trace | None = None, last_attention_only: bool = False) -> torch.Tensor:
        """x [B, T, H] -> [B, T, H], or [B, R, H] at ``last_layer_rows``.

        ``last_attention_only``: the last layer stops after its attention block (returns that
        block's output), for callers that read nothing past it (the lab's maps).
        """
        num_layers = len(self.layer)
        records = ([None] * num_layers if trace is None
                   else trace.start(num_layers, self.layer[0].attention.self.num_heads))
        for i, (layer, record) in enumerate(zip(self.layer, records)):
            rows = last_layer_rows if i == num_layers - 1 else None
            if i == num_layers - 1 and last_attention_only:
                return layer.attend(x, key_mask, rows, record)
            x = layer(x, key_mask, rows, record)
        return x


class BertPooler(nn.Module):
    def __init__(self, config: BertConfig):
        super().__init__()
        self.dense = nn.Linear(config.hidden_size, config.hidden_size)
        self.activation = nn.Tanh()

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        return self.activation(self.dense(hidden[:, 0]))  # [B, H] from [CLS]


class BertPreTrainedModel(nn.Module):
    """Shared init: BERT's truncated-normal-like init (normal, std = initializer_range)."""

    config: BertConfig

    def init_weights(self) -> None:
        self.apply(self._init_module)
        self.tie_weights()

    def tie_weights(self) -> None:
        """Share the MLM decoder's weight with the word embeddings (where there is a decoder)."""

    def _init_module(self, module: nn.Module) -> None:
        std = self.config.initializer_range
        if isinstance(module, nn.Linear):
            nn.init.normal_(module.weight, mean=0.0, std=std)
            if module.bias is not None:
                nn.init.zeros_(module.bias)
        elif isinstance(module, nn.Embedding):
            nn.init.normal_(module.weight, mean=0.0, std=std)
            if module.padding_idx is not None:
                with torch.no_grad():
                    module.weight[module.padding_idx].zero_()
        elif isinstance(module, nn.LayerNorm):
            nn.init.ones_(module.weight)
            nn.init.zeros_(module.bias)
        elif isinstance(module, BertLMPredictionHead):
            nn.init.zeros_(module.bias)


class BertModel(BertPreTrainedModel):
    def __init__(self, config: BertConfig, add_pooling_layer: bool = True, *,
                 initialize: bool = True):
        super().__init__()
        self.config = config
        self.embeddings = BertEmbeddings(config)
        self.encoder = BertEncoder(config)
        self.pooler = BertPooler(config) if add_pooling_layer else None
        if initialize:  # models that wrap this one initialise everything once themselves
            self.init_weights()

    def forward(self, input_ids: torch.Tensor | None = None,
                attention_mask: torch.Tensor | None = None,
                token_type_ids: torch.Tensor | None = None,
                position_ids: torch.Tensor | None = None, output_attentions: bool = False,
                output_hidden_states: bool = False, *,
                inputs_embeds: torch.Tensor | None = None,
                last_layer_rows: torch.Tensor | None = None,
                trace: Trace | None = None) -> EncoderOutput:
        """input_ids [B, T] or inputs_embeds [B, T, H]; attention_mask [B, T] (1 token, 0 padding).

        ``trace`` records what it names and applies its head gate (``engine.trace``); the HF
        flags ``output_attentions`` / ``output_hidden_states`` are a trace of those recordings,
        so pass either them or a trace. A trace's probabilities and hidden states also fill
        ``attentions`` and ``hidden_states``.

        ``last_layer_rows`` (indices into T, must include 0 when a pooler exists) computes the
        last layer's output only at those rows: ``last_hidden_state`` is then [B, R, H]. Callers
        that read a few positions (fill-mask, NSP) skip most of the last layer's work this way.
        """
        if output_attentions or output_hidden_states:
            if trace is not None:
                raise ValueError("pass output_attentions / output_hidden_states or a trace, "
                                 "not both")
            trace = Trace.for_hf_outputs(output_attentions, output_hidden_states)
        x = self.embeddings(input_ids, token_type_ids, position_ids, inputs_embeds)
        key_mask = extended_attention_mask(attention_mask)
        x = self.encoder(x, key_mask, last_layer_rows, trace)
        pooled = self.pooler(x) if self.pooler is not None else None
        return EncoderOutput(
            last_hidden_state=x,
            pooler_output=pooled,
            hidden_states=trace.hidden_states if trace is not None else None,
            attentions=trace.attentions if trace is not None else None,
        )


class BertPredictionHeadTransform(nn.Module):
    def __init__(self, config: BertConfig):
        super().__init__()
        self.dense = nn.Linear(config.hidden_size, config.hidden_size)
        self.transform_act_fn = _ACTIVATIONS[config.hidden_act]
        self.LayerNorm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.LayerNorm(self.transform_act_fn(self.dense(x)))


class BertLMPredictionHead(nn.Module):
    def __init__(self, config: BertConfig):
        super().__init__()
        self.transform = BertPredictionHeadTransform(config)
        self.decoder = nn.Linear(config.hidden_size, config.vocab_size)
        self.bias = nn.Parameter(torch.zeros(config.vocab_size))
        self.decoder.bias = self.bias  # one bias under both HF names

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.decoder(self.transform(x))  # [..., H] -> [..., V]


class BertOnlyMLMHead(nn.Module):
    def __init__(self, config: BertConfig):
        super().__init__()
        self.predictions = BertLMPredictionHead(config)


class BertPreTrainingHeads(nn.Module):
    def __init__(self, config: BertConfig):
        super().__init__()
        self.predictions = BertLMPredictionHead(config)
        self.seq_relationship = nn.Linear(config.hidden_size, 2)


def masked_lm_loss(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Mean cross-entropy over [M, V] logits; 0 (not NaN) when M is 0."""
    total = F.cross_entropy(logits.float(), targets, reduction="sum")
    return total / max(targets.numel(), 1)


def padded_rows(m: int) -> int:
    """How many rows to decode for ``m`` masked positions: the next power of two up to 64, then
    the next multiple of 64.

    Why: under CPU bf16 autocast, oneDNN keeps a kernel (with its own bf16 copy of the 30522 x H
    decoder weight) for every matrix shape it meets. A new M at every training step grew a run
    by gigabytes and slowed its steps; a few shapes keep it flat, for a few spare rows.
    """
    if m <= 64:
        return 1 << (m - 1).bit_length() if m else 0
    return -(-m // 64) * 64


class _MaskedLMMixin:
    """MLM logits only where they are needed: gather hidden states first, then decode."""

    def tie_weights(self) -> None:
        predictions = self.cls.predictions
        predictions.decoder.weight = self.bert.embeddings.word_embeddings.weight
        predictions.decoder.bias = predictions.bias

    def _mlm(self, hidden: torch.Tensor, labels: torch.Tensor | None,
             predict_at: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor | None]:
        """hidden [B, T, H] -> logits [B, T, V], or [M, V] where ``predict_at`` [B, T] is True.

        With labels and no ``predict_at``, the positions are those whose label is not -100.
        """
        if predict_at is None and labels is not None:
            predict_at = labels != IGNORE_INDEX
        if predict_at is None:
            return self.cls.predictions(hidden), None
        rows = hidden[predict_at]  # [M, H]
        m = rows.shape[0]
        logits = self.cls.predictions(F.pad(rows, (0, 0, 0, padded_rows(m) - m)))[:m]  # [M, V]
        loss = masked_lm_loss(logits, labels[predict_at]) if labels is not None else None
        return logits, loss


class BertForPreTraining(_MaskedLMMixin, BertPreTrainedModel):
    def __init__(self, config: BertConfig):
        super().__init__()
        self.config = config
        self.bert = BertModel(config, initialize=False)
        self.cls = BertPreTrainingHeads(config)
        self.init_weights()

    def forward(self, input_ids=None, attention_mask=None, token_type_ids=None,
                position_ids=None, labels=None, next_sentence_label=None, predict_at=None,
                output_attentions=False, output_hidden_states=False, *, inputs_embeds=None,
                trace=None) -> PreTrainingOutput:
        enc = self.bert(input_ids, attention_mask, token_type_ids, position_ids,
                        output_attentions, output_hidden_states, inputs_embeds=inputs_embeds,
                        trace=trace)
        mlm_logits, mlm_loss = self._mlm(enc.last_hidden_state, labels, predict_at)
        nsp_logits = self.cls.seq_relationship(enc.pooler_output)  # [B, 2]
        nsp_loss = (F.cross_entropy(nsp_logits.float(), next_sentence_label)
                    if next_sentence_label is not None else None)
        losses = [loss for loss in (mlm_loss, nsp_loss) if loss is not None]
        return PreTrainingOutput(
            loss=sum(losses) if losses else None, mlm_loss=mlm_loss, nsp_loss=nsp_loss,
            prediction_logits=mlm_logits, seq_relationship_logits=nsp_logits, encoder=enc)


class BertForMaskedLM(_MaskedLMMixin, BertPreTrainedModel):
    def __init__(self, config: BertConfig):
        super().__init__()
        self.config = config
        self.bert = BertModel(config, add_pooling_layer=False, initialize=False)
        self.cls = BertOnlyMLMHead(config)
        self.init_weights()

    def forward(self, input_ids=None, attention_mask=None, token_type_ids=None,
                position_ids=None, labels=None, predict_at=None, output_attentions=False,
                output_hidden_states=False, *, inputs_embeds=None, trace=None) -> TaskOutput:
        enc = self.bert(input_ids, attention_mask, token_type_ids, position_ids,
                        output_attentions, output_hidden_states, inputs_embeds=inputs_embeds,
                        trace=trace)
        logits, loss = self._mlm(enc.last_hidden_state, labels, predict_at)
        return TaskOutput(loss=loss, logits=logits, encoder=enc)


def _classifier_dropout(config: BertConfig) -> nn.Dropout:
    p = config.classifier_dropout
    return nn.Dropout(config.hidden_dropout_prob if p is None else p)


class BertForSequenceClassification(BertPreTrainedModel):
    """[CLS] pooled output -> labels. ``problem_type``: regression, single- or multi-label."""

    def __init__(self, config: BertConfig):
        super().__init__()
        self.config = config
        self.bert = BertModel(config, initialize=False)
        self.dropout = _classifier_dropout(config)
        self.classifier = nn.Linear(config.hidden_size, config.num_labels)
        self.init_weights()

    def forward(self, input_ids=None, attention_mask=None, token_type_ids=None,
                position_ids=None, labels=None, output_attentions=False,
                output_hidden_states=False, *, inputs_embeds=None, trace=None) -> TaskOutput:
        # Only [CLS] is read from the last layer: unless every row is asked for (outputs or a
        # trace), compute that layer there alone (its other rows feed nothing).
        every_row = output_attentions or output_hidden_states or trace is not None
        inputs = input_ids if input_ids is not None else inputs_embeds
        cls_only = (None if every_row or inputs is None  # no inputs: the embeddings say so
                    else torch.zeros(1, dtype=torch.long, device=inputs.device))
        enc = self.bert(input_ids, attention_mask, token_type_ids, position_ids,
                        output_attentions, output_hidden_states, inputs_embeds=inputs_embeds,
                        last_layer_rows=cls_only, trace=trace)
        logits = self.classifier(self.dropout(enc.pooler_output))  # [B, labels]
        loss = None if labels is None else self._loss(logits.float(), labels)
        return TaskOutput(loss=loss, logits=logits, encoder=enc)

    def _loss(self, logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        problem = self.config.problem_type
        if problem is None:
            problem = ("regression" if self.config.num_labels == 1
                       else "single_label_classification"
                       if labels.dtype in (torch.long, torch.int) else "multi_label_classification")
        if problem == "regression":
            return F.mse_loss(logits.squeeze(-1), labels.float().view(-1))
        if problem == "multi_label_classification":
            return F.binary_cross_entropy_with_logits(logits, labels.float())
        return F.cross_entropy(logits, labels.view(-1))


class BertForTokenClassification(BertPreTrainedModel):
    def __init__(self, config: BertConfig):
        super().__init__()
        self.config = config
        self.bert = BertModel(config, add_pooling_layer=False, initialize=False)
        self.dropout = _classifier_dropout(config)
        self.classifier = nn.Linear(config.hidden_size, config.num_labels)
        self.init_weights()

    def forward(self, input_ids=None, attention_mask=None, token_type_ids=None,
                position_ids=None, labels=None, output_attentions=False,
                output_hidden_states=False, *, inputs_embeds=None, trace=None) -> TaskOutput:
        enc = self.bert(input_ids, attention_mask, token_type_ids, position_ids,
                        output_attentions, output_hidden_states, inputs_embeds=inputs_embeds,
                        trace=trace)
        logits = self.classifier(self.dropout(enc.last_hidden_state))  # [B, T, labels]
        loss = None
        if labels is not None:
            loss = F.cross_entropy(logits.float().flatten(0, 1), labels.flatten(),
                                   ignore_index=IGNORE_INDEX)
        return TaskOutput(loss=loss, logits=logits, encoder=enc)


class BertForQuestionAnswering(BertPreTrainedModel):
    """Start and end logits per token; the answer span is read from them by the caller."""

    def __init__(self, config: BertConfig):
        super().__init__()
        self.config = config
        self.bert = BertModel(config, add_pooling_layer=False, initialize=False)
        self.qa_outputs = nn.Linear(config.hidden_size, config.num_labels)  # 2: start, end
        self.init_weights()

    def forward(self, input_ids=None, attention_mask=None, token_type_ids=None,
                position_ids=None, start_positions=None, end_positions=None,
                output_attentions=False, output_hidden_states=False, *, inputs_embeds=None,
                trace=None) -> TaskOutput:
        enc = self.bert(input_ids, attention_mask, token_type_ids, position_ids,
                        output_attentions, output_hidden_states, inputs_embeds=inputs_embeds,
                        trace=trace)
        logits = self.qa_outputs(enc.last_hidden_state)  # [B, T, 2]: start, end
        loss = None
        if start_positions is not None and end_positions is not None:
            seq_len = logits.shape[1]
            # Out-of-range answers (cut off by truncation) are ignored, as in HF.
            start = start_positions.clamp(0, seq_len)
            end = end_positions.clamp(0, seq_len)
            loss = (F.cross_entropy(logits[..., 0].float(), start, ignore_index=seq_len)
                    + F.cross_entropy(logits[..., 1].float(), end, ignore_index=seq_len)) / 2
        return TaskOutput(loss=loss, logits=logits, encoder=enc)


ARCHITECTURES: dict[str, type[BertPreTrainedModel]] = {
    cls.__name__: cls for cls in (BertModel, BertForPreTraining, BertForMaskedLM,
                                  BertForSequenceClassification, BertForTokenClassification,
                                  BertForQuestionAnswering)
}
