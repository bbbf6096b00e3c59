"""Imported by the server that forks batch worker processes (``set_forkserver_preload``): it
loads and warms up the plugin once, so every worker forked from it starts ready."""

from .batch import preload_from_environment

preload_from_environment()
