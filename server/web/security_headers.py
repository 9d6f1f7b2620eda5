"""Security headers on every response, pages and API alike."""

from flask import current_app, request

# Everything the pages use is served by the app itself: no CDN, no inline script or style.
CONTENT_SECURITY_POLICY = "; ".join((
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self'",
    "font-src 'self'",
    "connect-src 'self'",
    "object-src 'none'",
    "base-uri 'self'",
    "form-action 'self'",
    "frame-ancestors 'none'",
))

SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    # Internal links keep their referrer; nothing about a page (or a target) leaks to other sites.
    "Referrer-Policy": "same-origin",
    "Cross-Origin-Opener-Policy": "same-origin",
}


def _add_security_headers(response):
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    # Pages and API answers may show sealed targets, evidence or personal data: shared caches and
    # the back button of a shared computer must not keep them. Static assets keep their own caching.
    if request.path.startswith("/api/"):
        response.headers["Cache-Control"] = "no-store"  # also over send_file's "no-cache" for evidence
    elif response.mimetype == "text/html":
        response.headers.setdefault("Cache-Control", "no-store")
    # Secure cookies mean the site is served over HTTPS (production); keep browsers on it.
    if current_app.config.get("SESSION_COOKIE_SECURE"):
        response.headers.setdefault("Strict-Transport-Security", "max-age=31536000")
    return response


def init_security_headers(app) -> None:
    app.after_request(_add_security_headers)
