"""The send: the resumable loop over the ledger, the slots that deliver batches (in-process or
forked workers with journals), and the transports."""
