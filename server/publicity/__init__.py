"""Publicity: the material library, masking and redaction, and bulletins (正反典型简报)."""
