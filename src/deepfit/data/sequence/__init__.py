"""Sequence classification / regression: .npz or long tables, padded with their lengths."""
