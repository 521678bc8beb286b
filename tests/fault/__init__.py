"""Adversarial cases: bad input, planted files, kills, full disks, concurrent runs (issue 8)."""
