"""Forecasting: series cleaned per series, cut into windows (lookback → horizon), split by time."""
