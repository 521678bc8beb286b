"""A GAN run exports its generator only: noise in, encoded samples out (the discriminator serves training).

The generator used is the one ``deepfit sample`` draws from (the moving average when the run kept one), in
eval mode (exact one-hot categories). Parity is checked on seeded noise; the runtime draws its own noise with
NumPy and decodes the samples (``deepfit.runtime.Runtime.sample``), so its samples follow the same distribution
as ``deepfit sample``'s but are not the same rows for the same seed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

ROWS = 64  # noise rows the parity check runs on


def generator_parts(run: Path) -> tuple[Any, tuple[torch.Tensor, ...], dict[str, Any], dict[str, Any]]:
    """The generator network, seeded noise, the codec's JSON and what metadata.json says of it."""
    from deepfit.sampling import load_gan

    model, codec = load_gan(run)
    net = (model.average if model.average is not None else model.generator).eval()
    noise = torch.randn(ROWS, model.latent_dim, generator=torch.Generator().manual_seed(0))
    state = codec.to_dict()
    about = {
        "task": "generation",
        "target": state.get("target"),
        "classes": list(codec.classes) or None,
        "kind": state.get("data"),
        "latent_dim": int(model.latent_dim),
        "output_names": None,
    }
    return net, (noise,), state, about
