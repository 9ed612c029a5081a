"""Code node types: authors' code, run out of process in a sandbox."""
