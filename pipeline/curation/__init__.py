"""The editor's excerpts: the file format, read and written (excerpts), and `digest curate add`
(add, pagemeta)."""
