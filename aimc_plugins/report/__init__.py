"""Reports: statistics over finished runs, tables (Markdown, HTML, CSV) and figures."""
