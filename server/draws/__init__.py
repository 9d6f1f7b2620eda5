"""Verifiable draws, sealed assignments, their envelopes and the server's keys."""
