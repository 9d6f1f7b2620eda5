"""Pages: landing page per role."""

from flask import Blueprint, render_template

bp = Blueprint("web", __name__, template_folder="templates", static_folder="static", static_url_path="/static")


@bp.get("/")
def index():
    return render_template("index.html")
