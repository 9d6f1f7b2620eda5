"""Every list sorts the same way: `sort=key` ascending, `sort=-key` descending, from its column
headings and its sort filter alike."""

from __future__ import annotations

import html
import re
from urllib.parse import parse_qs, urlsplit

from web_session import login

from server.web.query_args import sort_arg, sort_links

SORTS = {"created": "创建时间", "title": "标题"}


def test_sort_links_are_signed_keep_the_filters_and_start_again_at_page_one(app):
    with app.test_request_context("/materials?kind=negative&page=3&sort=-created"):
        links = sort_links("web_materials.list_materials", SORTS, "created", True)
    created, title = (parse_qs(urlsplit(links[key]["url"]).query) for key in ("created", "title"))
    assert created == {"kind": ["negative"], "sort": ["created"]}  # the current column turns round
    assert title == {"kind": ["negative"], "sort": ["-title"]}  # a new column starts descending
    assert links["created"]["current"] and links["created"]["aria"] == "descending"
    assert not links["title"]["current"]


def test_sort_arg_reads_the_sign_and_refuses_unknown_keys(app):
    for query, expected in (("", ("created", True)), ("sort=title", ("title", False)), ("sort=-title", ("title", True))):
        with app.test_request_context(f"/x?{query}"):
            assert sort_arg(SORTS, "-created") == expected
    errors: dict = {}
    with app.test_request_context("/x?sort=-password"):
        assert sort_arg(SORTS, "-created", errors) == ("created", True)
    assert "sort" in errors


def test_a_list_page_links_its_headings_and_its_filter_in_the_one_style(client, new_user):  # noqa: F811
    admin = new_user("admin")
    login(client, admin)
    page = client.get("/admin/users", query_string={"sort": "-username"}).get_data(as_text=True)
    headings = re.findall(r'<th scope="col"[^>]*><a href="([^"]+)"', page)
    assert len(headings) == 3
    sorts = [parse_qs(urlsplit(html.unescape(url)).query) for url in headings]
    assert all(set(query) == {"sort"} for query in sorts), sorts
    assert [query["sort"][0] for query in sorts] == ["username", "-role", "-last_login"]
    assert 'aria-sort="descending"' in page
    options = re.findall(r'<option value="(-?[a-z_]+)"( selected)?>[^<]*（(升序|降序)）</option>', page)
    assert ("-username", " selected", "降序") in options and ("username", "", "升序") in options
