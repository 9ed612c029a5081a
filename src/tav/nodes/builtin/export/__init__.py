"""Export nodes: data into CSV, Excel, JSON, Markdown, HTML and PDF files under
files/exports, each returned as a file value with a download URL."""
