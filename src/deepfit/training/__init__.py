"""Training: the loop (``trainer.py``) and the pure pieces beside it (optimizers, schedules, losses)."""
