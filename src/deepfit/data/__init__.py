"""Data pipeline: read → infer schema → clean (report) → split → preprocess (fit on train) → tensors."""
