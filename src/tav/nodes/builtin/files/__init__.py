"""File nodes: read stored, uploaded or inline files into data; write data to files."""

from tav.nodes.base import Node
from tav.nodes.builtin.files.read import FileRead
from tav.nodes.builtin.files.write import FileWrite

FILE_NODE_TYPES: list[type[Node]] = [FileRead, FileWrite]
