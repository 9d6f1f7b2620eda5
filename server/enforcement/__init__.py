"""Enforcement: penalty cases, legal bases and discretion, official documents and rectification."""
