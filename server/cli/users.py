"""`anfang user` and `anfang token` commands."""

import click

user_cli = click.Group("user")
token_cli = click.Group("token")
