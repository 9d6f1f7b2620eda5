"""The site's own blueprint: the shared templates (base, forms, lists, errors), the local assets
under /assets, and the landing page's address, which the oversight domain fills per role."""

from flask import Blueprint

# Not /static: Flask's own app-level static route claims that path first (even without a folder).
bp = Blueprint("web", __name__, template_folder="templates", static_folder="static", static_url_path="/assets")
