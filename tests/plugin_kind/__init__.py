"""A data kind defined outside deepfit (tests/test_plugin_kind.py): the proof that kinds are plugins."""
