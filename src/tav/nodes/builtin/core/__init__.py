"""Core node types: data, flow control, timing, HTTP, sub-workflows."""
