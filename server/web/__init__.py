"""Server-rendered pages (Jinja, zh-CN)."""


def register_web(app) -> None:
    from .views import bp

    app.register_blueprint(bp)
