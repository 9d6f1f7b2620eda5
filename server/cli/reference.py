"""`anfang reference` commands."""

import click

reference_cli = click.Group("reference")
