"""Server-rendered pages (Jinja, zh-CN)."""


from ..models.base import local_text


def register_web(app) -> None:
    # Authentication is wired here because every app registers its pages; the API's bearer
    # loader lives in the same place so both channels are decided side by side.
    from ..auth_setup import init_auth
    from .accountability import bp as accountability_bp
    from .admin import bp as admin_bp
    from .audit import bp as audit_bp
    from .auth import bp as auth_bp
    from .cases import bp as cases_bp
    from .draws import bp as draws_bp
    from .inspections import bp as inspections_bp
    from .materials import bp as materials_bp
    from .navigation import inject_navigation
    from .rectification import bp as rectification_bp
    from .rectification import rectification_for_case
    from .security_headers import init_security_headers
    from .statistics import bp as statistics_bp
    from .viewer import bp as viewer_bp
    from .views import bp

    init_auth(app)
    init_security_headers(app)
    app.context_processor(inject_navigation)
    app.register_blueprint(bp)
    app.register_blueprint(auth_bp)
    app.register_blueprint(draws_bp)
    app.register_blueprint(inspections_bp)
    app.register_blueprint(cases_bp)
    app.register_blueprint(rectification_bp)
    app.add_template_global(rectification_for_case, "rectification_for_case")
    app.register_blueprint(statistics_bp)
    app.register_blueprint(accountability_bp)
    app.register_blueprint(materials_bp)
    app.register_blueprint(audit_bp)
    app.register_blueprint(admin_bp)
    app.register_blueprint(viewer_bp)
    app.add_template_filter(local_text, "local_time")
