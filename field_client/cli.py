"""`anfang-field`: the inspector's offline command line."""

import click


@click.group(help="anfang 现场督查客户端（离线记录、同步）。")
@click.version_option(package_name="anfang", message="anfang-field %(version)s")
def main():
    pass
