"""Trigger node types."""
