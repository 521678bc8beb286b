"""Tables larger than memory, streamed from disk (``data.streaming``; docs/streaming.md).

``source`` (CSV → Parquet once, into a cache; the memory estimate of ``auto``), ``rows`` (the seeded
per-row split and the bottom-k samples), ``fit`` (everything fitted on train in one pass, into the
``TabularPreprocessor`` state), ``reader`` (``StreamData``: two-level shuffle, the saved buffer, the
prefetch thread), ``prepare`` (the pass that ties them together), ``evaluate`` (a split scored by streaming).
"""
