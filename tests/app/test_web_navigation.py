"""The navigation bar: the same order for everyone, and every link in a role's bar opens for it."""

from __future__ import annotations

import re

import pytest
from web_session import login

from server.roles import ROLES
from server.web.navigation import _NAV_ITEMS, NAV_ORDER

NAV_LINK = re.compile(r'<nav class="site-nav"[^>]*>(.*?)</nav>', re.S)


def nav_links(html: str) -> list[tuple[str, str]]:
    (bar,) = NAV_LINK.findall(html)
    return re.findall(r'<a href="([^"]+)"[^>]*>([^<]+)</a>', bar)


def test_every_registered_entry_has_its_place_in_the_order(app):
    assert {item.endpoint for item in _NAV_ITEMS} <= set(NAV_ORDER)


@pytest.mark.parametrize("role", ROLES)
def test_each_roles_bar_is_in_the_common_order_and_every_link_opens(client, new_user, role):  # noqa: F811
    user = new_user(role)
    login(client, user)
    links = nav_links(client.get("/").get_data(as_text=True))
    assert links[0][1] == "首页" and len(links) >= 2, links
    labels_in_order = [item.label for item in sorted(_NAV_ITEMS, key=lambda i: NAV_ORDER.index(i.endpoint))]
    shown = [label for _, label in links]
    assert shown == [label for label in labels_in_order if label in shown]
    for url, label in links:
        response = client.get(url)
        assert response.status_code == 200, (role, label, url, response.status_code)
