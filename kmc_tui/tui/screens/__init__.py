"""Screens shown over the main one: help and plugins."""
