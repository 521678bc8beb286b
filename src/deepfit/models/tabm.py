"""TabM (Gorishniy et al., ICLR 2025): one MLP acting as k members that share most of their weights.

Built from the ``tabm`` package's BatchEnsemble backbone (each member rescales the shared linear layers'
inputs and outputs) and ``rtdl_num_embeddings``' piecewise-linear embeddings (Gorishniy et al., NeurIPS 2022).

In training mode the module returns every member's output, ``(batch, k, outputs)``, and the loss is the mean
of the k members' losses (``deepfit.training.losses.MemberMean``). In eval mode it returns the ensemble:
the log of the mean of the members' probabilities (so softmax, argmax and cross-entropy work as for any
classifier), or the mean of their values for regression.

The bins of the piecewise-linear embeddings are fixed edges at the quantiles of the normal distribution:
with ``data.preprocess.scaling: quantile`` (fitted on the training split) every continuous feature is
normal on train, so these are the edges ``rtdl_num_embeddings.compute_bins`` finds on the transformed
training data, and the module is rebuilt identically from its config alone (prediction, resume).
"""

from __future__ import annotations

import math

import torch
from torch import nn

from deepfit.config import TabMConfig
from deepfit.data.spec import DataSpec

EMBEDDING_SIZE = 16  # the TabM paper's d_embedding for piecewise-linear embeddings
QUANTILE_BOUND = 1e-7  # the quantile scaling's outermost ranks: its values lie within ±5.2


def normal_bins(n_bins: int) -> torch.Tensor:
    """``n_bins + 1`` edges: the quantiles of the normal distribution at ``0, 1/n_bins, ..., 1`` (ends ±5.2)."""
    ranks = torch.linspace(0, 1, n_bins + 1, dtype=torch.float64).clamp(QUANTILE_BOUND, 1 - QUANTILE_BOUND)
    return torch.special.ndtri(ranks).float()


class TabM(nn.Module):
    """``[numeric embeddings ⊕ categorical embeddings] → k-member MLP (BatchEnsemble) → k heads``.

    Inputs are the data pipeline's: ``x`` (float features: numeric, boolean and one-hot columns) and, when
    categorical columns are embedded, ``x_cat`` (one code per column, 0 meaning unknown).
    """

    head_name = "output"  # the k members' linear heads (deepfit.models.transfer)

    def __init__(
        self,
        in_features: int,
        out_features: int,
        *,
        task: str = "classification",
        k: int = 32,
        width: int = 512,
        blocks: int | None = None,
        dropout: float = 0.1,
        embedding: str = "piecewise_linear",
        n_bins: int = 48,
        cardinalities: list[int] | None = None,
        embedding_dim: int | None = None,
    ) -> None:
        import rtdl_num_embeddings as rtdl
        import tabm

        super().__init__()
        self.task = task
        embed = embedding != "none" and in_features > 0
        self.numeric: nn.Module | None = None
        if embed and embedding == "piecewise_linear":
            bins = [normal_bins(n_bins)] * in_features
            self.numeric = rtdl.PiecewiseLinearEmbeddings(bins, EMBEDDING_SIZE, activation=False, version="B")
        elif embed:
            self.numeric = rtdl.PeriodicEmbeddings(in_features, EMBEDDING_SIZE, lite=False)
        cards = cardinalities or []
        widths = [embedding_dim or min(32, (card + 1) // 2) for card in cards]
        self.embeddings = nn.ModuleList(nn.Embedding(card, dim) for card, dim in zip(cards, widths, strict=True))
        # each feature's width in the flat input: the first scaling is initialised per feature (TabM's chunks)
        chunks = [EMBEDDING_SIZE if embed else 1] * in_features + widths
        self.ensemble_view = tabm.EnsembleView(k=k)
        self.backbone = tabm.make_tabm_backbone(
            d_in=sum(chunks),
            n_blocks=blocks or (2 if embed else 3),
            d_block=width,
            dropout=dropout,
            k=k,
            arch_type="tabm",
            start_scaling_init="normal" if embed else "random-signs",
            start_scaling_init_chunks=chunks,
        )
        self.output = tabm.LinearEnsemble(width, out_features, k=k)

    @property
    def k(self) -> int:
        return self.backbone.k

    def members(self, x: torch.Tensor, x_cat: torch.Tensor | None = None) -> torch.Tensor:
        """Every member's output, ``(batch, k, outputs)``: logits or values."""
        parts = [x if self.numeric is None else self.numeric(x).flatten(1)]
        parts += [emb(x_cat[:, i]) for i, emb in enumerate(self.embeddings)] if x_cat is not None else []
        return self.output(self.backbone(self.ensemble_view(torch.cat(parts, dim=1))))

    def forward(self, x: torch.Tensor, x_cat: torch.Tensor | None = None) -> torch.Tensor:
        out = self.members(x, x_cat)
        if self.training:
            return out
        return combine(out, self.task)


def combine(members: torch.Tensor, task: str) -> torch.Tensor:
    """The ensemble of ``(batch, k, outputs)``: log of the mean probability (classification) or the mean."""
    if task == "classification":
        return torch.logsumexp(torch.log_softmax(members.float(), dim=-1), dim=1) - math.log(members.shape[1])
    return members.mean(dim=1)


def build_tabm(spec: DataSpec, config: TabMConfig) -> TabM:
    return TabM(
        spec.n_features,
        spec.n_outputs,
        task=spec.task,
        k=config.tabm_k,
        width=config.tabm_width,
        blocks=config.tabm_blocks,
        dropout=config.dropout,
        embedding=config.tabm_embedding,
        n_bins=config.tabm_bins,
        cardinalities=spec.cardinalities,
        embedding_dim=config.embedding_dim,
    )
