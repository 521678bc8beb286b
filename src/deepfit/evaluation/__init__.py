"""Evaluation: metrics and reports for trained models."""
