"""Tokenizers (Hugging Face ``tokenizers``: BPE, WordPiece or whole words) trained on the training texts.

[PAD]=0, [UNK]=1, [CLS]=2 in every vocabulary; every text starts with [CLS]. TokenDropout is the training
augmentation of token ids.
"""

from __future__ import annotations

import json
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


def train_tokenizer(texts: list[str], config: TextConfig) -> Tokenizer:
    """A tokenizer of ``config.tokenizer`` kind trained on ``texts``: [PAD]=0, [UNK]=1, [CLS]=2, [CLS] first."""
    options = {"vocab_size": config.vocab_size, "min_frequency": config.min_frequency, "show_progress": False}
    model, trainer = _TOKENIZERS[config.tokenizer]
    tokenizer = Tokenizer(model(unk_token="[UNK]"))
    steps: list[normalizers.Normalizer] = [normalizers.NFD()]  # decomposed, so that StripAccents can drop the accents
    steps += [normalizers.Lowercase()] if config.lowercase else []
    steps += [normalizers.StripAccents()] if config.strip_accents else []
    tokenizer.normalizer = normalizers.Sequence(steps)
    tokenizer.pre_tokenizer = pre_tokenizers.Whitespace()
    pieces = _continuing_pieces(tokenizer, texts) if config.tokenizer == "wordpiece" else []
    tokenizer.train_from_iterator(texts, trainer(special_tokens=SPECIAL + pieces, **options), length=len(texts))
    if pieces:  # in the vocabulary, as WordPiece needs them, but not special: '##a' in a text is just text
        raw = json.loads(tokenizer.to_str())
        raw["added_tokens"] = [t for t in raw["added_tokens"] if t["content"] in SPECIAL]
        tokenizer = Tokenizer.from_str(json.dumps(raw))
    tokenizer.post_processor = processors.TemplateProcessing(single="[CLS] $A", special_tokens=[("[CLS]", CLS)])
    return tokenizer


def _continuing_pieces(tokenizer: Tokenizer, texts: list[str]) -> list[str]:
    """'##' + every character of the normalised texts, sorted: WordPiece training made deterministic.

    The trainer creates these pieces in hash-map order, so their ids, and the merges they tie-break, change
    from run to run (huggingface/tokenizers#1794). Given up front, in a fixed order, nothing is left to chance.
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
