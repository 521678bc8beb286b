"""What a person sees: bars that fit 80 columns, headings for every block of figures."""

from __future__ import annotations

from rich.console import Console

from deepfit.cli import main
from deepfit.training.callbacks import ProgressBar, TrainState
from deepfit.training.gan import status


def narrow() -> Console:
    return Console(width=80, force_terminal=False, record=True, file=open("/dev/null", "w"))


def test_the_gan_progress_bar_fits_80_columns() -> None:
    console = narrow()
    bar = ProgressBar(console=console, status=status)  # the bar every run shows, with a GAN's figures
    state = TrainState(model=None, optimizer=None, schedule=None, epochs=300)
    bar.on_fit_begin(state)
    state.epoch = 120
    state.logs = {"d_loss": 1.2345, "g_loss": 0.8765, "d_real": 0.55, "d_fake": 0.45, "val_two_sample": 0.612}
    bar.on_epoch_end(state)
    bar.close()
    line = console.export_text().rstrip("\n")
    assert "…" not in line and len(line) <= 80 and line.endswith("0:00:00") and "two_sample 0.612" in line


def test_the_training_progress_bar_fits_80_columns() -> None:
    console = narrow()
    bar = ProgressBar("val_f1_macro", console=console)
    state = TrainState(model=None, optimizer=None, schedule=None, epochs=300)
    bar.on_fit_begin(state)
    state.epoch, state.logs = 120, {"train_loss": 0.1234, "val_f1_macro": 0.9876, "val_loss": 0.2345}
    bar.on_epoch_end(state)
    bar.close()
    line = console.export_text().rstrip("\n")
    assert "…" not in line and len(line) <= 80 and "val_loss 0.2345" in line


def test_forecast_notes_in_evaluate_are_headed_by_their_split(monkeypatch, capsys) -> None:
    import deepfit.api as api

    metrics = {
        split: {"mae": 0.4, "notes": [f"model MAE 0.4 beats naive ({split})"]} for split in ("validation", "test")
    }
    monkeypatch.setattr(api, "evaluate", lambda *a, **k: metrics)
    monkeypatch.setattr(api, "load", lambda *a, **k: type("M", (), {"spec": type("S", (), {"task": "regression"})})())
    assert main(["evaluate", "run"]) == 0
    out = capsys.readouterr().out
    assert out.index("Validation\n") < out.index("(validation)") < out.index("Test\n") < out.index("(test)")
