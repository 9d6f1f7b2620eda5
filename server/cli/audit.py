"""`anfang audit` commands."""

import click

audit_cli = click.Group("audit")
