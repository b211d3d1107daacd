"""The public archive, issues/<week>/: its files (the only writer), the delivery record, the static
site."""
