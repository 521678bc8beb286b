"""Tokenizers (Hugging Face ``tokenizers``: BPE, WordPiece or whole words) trained on the training texts.

[PAD]=0, [UNK]=1, [CLS]=2 in every vocabulary; every text starts with [CLS]. TokenDropout is the training
augmentation of token ids.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import torch
from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, processors, trainers

from deepfit.config import TextConfig

PAD, UNK, CLS = 0, 1, 2  # ids of the special tokens, in this order in every vocabulary
SPECIAL = ["[PAD]", "[UNK]", "[CLS]"]
_TOKENIZERS = {  # data.text.tokenizer -> (model, trainer)
    "bpe": (models.BPE, trainers.BpeTrainer),
    "wordpiece": (models.WordPiece, trainers.WordPieceTrainer),
    "word": (models.WordLevel, trainers.WordLevelTrainer),
}


def base_tokenizer(config: TextConfig) -> Tokenizer:
    """An untrained tokenizer of ``config.tokenizer`` kind, with its normaliser and whitespace pre-tokenizer."""
    model = _TOKENIZERS[config.tokenizer][0]
    tokenizer = Tokenizer(model(unk_token="[UNK]"))
    steps: list[normalizers.Normalizer] = [normalizers.NFD()]  # decomposed, so that StripAccents can drop the accents
    steps += [normalizers.Lowercase()] if config.lowercase else []
    steps += [normalizers.StripAccents()] if config.strip_accents else []
    tokenizer.normalizer = normalizers.Sequence(steps)
    tokenizer.pre_tokenizer = pre_tokenizers.Whitespace()
    return tokenizer


def train_tokenizer(
    texts: Iterable[str], config: TextConfig, *, pieces: list[str] | None = None, length: int | None = None
) -> Tokenizer:
    """A tokenizer of ``config.tokenizer`` kind trained on ``texts``: [PAD]=0, [UNK]=1, [CLS]=2, [CLS] first.

    ``texts`` may be an iterator read once (a stream of training texts, ``length`` of them if known); a
    WordPiece tokenizer then needs its ``pieces`` (``continuing_pieces`` of the same texts) given up front.
    """
    options = {"vocab_size": config.vocab_size, "min_frequency": config.min_frequency, "show_progress": False}
    trainer = _TOKENIZERS[config.tokenizer][1]
    tokenizer = base_tokenizer(config)
    if config.tokenizer == "wordpiece" and pieces is None:
        texts = list(texts)
        pieces = continuing_pieces(tokenizer, texts)
    pieces = pieces if config.tokenizer == "wordpiece" else []
    if length is None and isinstance(texts, list):
        length = len(texts)
    tokenizer.train_from_iterator(texts, trainer(special_tokens=SPECIAL + (pieces or []), **options), length=length)
    if pieces:  # in the vocabulary, as WordPiece needs them, but not special: '##a' in a text is just text
        raw = json.loads(tokenizer.to_str())
        raw["added_tokens"] = [t for t in raw["added_tokens"] if t["content"] in SPECIAL]
        tokenizer = Tokenizer.from_str(json.dumps(raw))
    tokenizer.post_processor = processors.TemplateProcessing(single="[CLS] $A", special_tokens=[("[CLS]", CLS)])
    return tokenizer


def continuing_pieces(tokenizer: Tokenizer, texts: Iterable[str]) -> list[str]:
    """'##' + every character of the normalised texts, sorted: WordPiece training made deterministic.

    The trainer creates these pieces in hash-map order, so their ids, and the merges they tie-break, change
    from run to run (huggingface/tokenizers#1794). Given up front, in a fixed order, nothing is left to chance.
    The pieces of several batches of texts, merged and sorted, are those of all of them.
    """
    chars = set().union(*(tokenizer.normalizer.normalize_str(text) for text in texts))
    return [f"##{c}" for c in sorted(chars) if not c.isspace()]


@dataclass
class TokenDropout:
    """Training augmentation: each token other than [PAD] and [CLS] becomes [UNK] with probability ``rate``.

    Replacing (rather than removing) keeps every text's length and its padding where it is.
    """

    rate: float

    def __call__(self, inputs: tuple[torch.Tensor, ...], target: torch.Tensor) -> tuple[tuple[torch.Tensor, ...], Any]:
        ids = inputs[0]
        drop = (torch.rand(ids.shape, device=ids.device) < self.rate) & (ids > CLS)
        return (ids.masked_fill(drop, UNK), *inputs[1:]), target
