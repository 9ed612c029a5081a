"""File nodes: read stored, uploaded or inline files into data; write data to files."""
