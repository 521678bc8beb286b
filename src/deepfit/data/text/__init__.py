"""Text tables: a text column and a label, a tokenizer fitted on the training texts."""
