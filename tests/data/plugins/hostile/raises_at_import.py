"""A plugin file that raises while it is imported (tests/test_hostile_plugins.py)."""

raise RuntimeError("this plugin is broken at import")
