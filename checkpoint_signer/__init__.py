"""Signed checkpoints of the anfang audit chain head, made with a key the server never holds.

The auditor (纪检) exports the chain head from the server (`anfang audit checkpoint`), signs it on
their own machine with `anfang-checkpoint sign`, and hands the signed file back to the server and
to a place outside it. The package imports nothing of the server: only the standard library and
`cryptography`, so it runs on a machine that has no access to the server's code or database.
"""
