"""The inspector's phone app at /field/: the files `make install` builds into field_app/dist,
served by the server itself (same origin as the API, nothing from a CDN).

Every file is revalidated on each fetch (the bundle keeps its name from build to build), so a
new build reaches phones at their next online opening; the service worker keeps the shell for
the offline ones. A server whose app was not built answers with a plain Chinese page saying so.
"""

from __future__ import annotations

from pathlib import Path

from flask import Blueprint, current_app, send_from_directory
from werkzeug.exceptions import NotFound

bp = Blueprint("field_app", __name__, url_prefix="/field")

DEFAULT_APP_DIR = Path(__file__).resolve().parents[3] / "field_app" / "dist"

# The app shows photo thumbnails and signatures from Blob URLs, and draws on a canvas; its
# scripts and styles stay same-origin files, as on every other page.
APP_CONTENT_SECURITY_POLICY = "; ".join((
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' blob: data:",
    "font-src 'self'",
    "connect-src 'self'",
    "worker-src 'self'",
    "manifest-src 'self'",
    "object-src 'none'",
    "base-uri 'self'",
    "form-action 'self'",
    "frame-ancestors 'none'",
))

NOT_BUILT_PAGE = """<!doctype html><html lang="zh-CN"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>现场应用尚未安装</title></head>
<body><h1>现场应用尚未安装</h1><p>服务器上还没有构建手机现场应用。请管理员在服务器上运行 make install 后重试。</p>
</body></html>"""

def app_dir() -> Path:
    return Path(current_app.config.get("FIELD_APP_DIR") or DEFAULT_APP_DIR)


def _serve(name: str):
    directory = app_dir()
    if not (directory / "index.html").is_file():
        return NOT_BUILT_PAGE, 503, {"Content-Type": "text/html; charset=utf-8", "Retry-After": "3600"}
    try:
        response = send_from_directory(directory, name, max_age=0)
    except NotFound:
        raise NotFound("现场应用中没有这个文件。") from None
    response.headers["Content-Security-Policy"] = APP_CONTENT_SECURITY_POLICY
    response.headers["Cache-Control"] = "no-cache"
    if name == "manifest.webmanifest":
        response.mimetype = "application/manifest+json"
    return response


@bp.get("/")
def shell():
    return _serve("index.html")


@bp.get("/<path:name>")
def shell_file(name: str):
    return _serve(name)
