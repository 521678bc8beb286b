"""``ngram``: a bag of word and hashed-bigram embeddings, averaged, then a linear layer (fastText).

Joulin, Grave, Bojanowski and Mikolov, "Bag of Tricks for Efficient Text Classification" (EACL 2017): the
embedding of each token and of each pair of consecutive tokens, the pair hashed into a fixed number of buckets,
averaged over the text; a linear classifier reads the average. No order beyond two tokens, no recurrence: it
trains in seconds and needs far fewer texts than a GRU or a transformer to be as accurate.

The input is the token ids of ``data/text.py``: [CLS] first, padding 0 at the end. Bigram ids are computed here
from the token ids, so the data path and the saved preprocessing stay the same for every text model.
"""

from __future__ import annotations

import torch
from torch import nn

from deepfit.config import NGramConfig
from deepfit.data.spec import DataSpec
from deepfit.models.init import init_weights
from deepfit.models.text import require_text_spec

PAD = 0
# Two odd constants below 2**31: with token ids below 2**31 the sum stays within int64, so the hash is exact.
_P1, _P2 = 1_000_003, 2_147_483_647


def bigram_ids(ids: torch.Tensor, vocab_size: int, buckets: int) -> torch.Tensor:
    """Ids of consecutive token pairs, hashed to ``vocab_size + [0, buckets)``; a pair touching padding is 0.

    (batch, seq_len) -> (batch, seq_len - 1). The same two tokens give the same id wherever they are, in any
    batch, on any device: the hash is integer arithmetic only.
    """
    left, right = ids[:, :-1], ids[:, 1:]
    hashed = vocab_size + torch.remainder(left * _P1 + right * _P2, buckets)
    return hashed.masked_fill(left.eq(PAD) | right.eq(PAD), PAD)


class NGramBag(nn.Module):
    """Mean of token and hashed-bigram embeddings (padding excluded) → dropout → Linear."""

    def __init__(
        self, vocab_size: int, n_outputs: int, *, embedding_dim: int = 32, buckets: int = 16_384, dropout: float = 0.0
    ) -> None:
        super().__init__()
        self.vocab_size, self.buckets = vocab_size, buckets
        # one table: rows [0, vocab) are tokens, rows [vocab, vocab + buckets) are bigram buckets
        self.embedding = nn.EmbeddingBag(vocab_size + buckets, embedding_dim, mode="mean", padding_idx=PAD)
        # fastText's scale: small vectors, so that an average of a few moves quickly from the start
        nn.init.uniform_(self.embedding.weight, -1.0 / embedding_dim, 1.0 / embedding_dim)
        with torch.no_grad():
            self.embedding.weight[PAD].zero_()
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(embedding_dim, n_outputs)

    def bag(self, ids: torch.Tensor) -> torch.Tensor:
        """(batch, seq_len) token ids -> (batch, n) ids of the tokens and, with buckets, of their bigrams."""
        if self.buckets == 0 or ids.shape[1] < 2:
            return ids
        return torch.cat([ids, bigram_ids(ids, self.vocab_size, self.buckets)], dim=1)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        pooled = self.embedding(self.bag(ids))  # padding_idx entries are left out of each mean
        return self.head(self.dropout(pooled))


def build_ngram(spec: DataSpec, config: NGramConfig) -> NGramBag:
    require_text_spec(spec, "ngram")
    model = NGramBag(
        spec.vocab_size,
        spec.n_outputs,
        embedding_dim=config.embedding_dim or 32,
        buckets=config.ngram_buckets,
        dropout=config.dropout,
    )
    init_weights(model.head, config.init, "relu")
    return model
