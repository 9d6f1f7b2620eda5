"""Server-rendered pages (Jinja, zh-CN)."""


from ..columns import local_text


def register_web(app) -> None:
    # Authentication is wired here because every app registers its pages; the API's bearer
    # loader lives in the same place so both channels are decided side by side.
    from ..accounts import inspector_import  # noqa: F401  (the inspectors' kind of the import page)
    from ..accounts.auth_setup import init_auth
    from ..accounts.web.admin import bp as admin_bp
    from ..accounts.web.auth import bp as auth_bp
    from ..audit.web.audit import bp as audit_bp
    from ..draws.web import seed_contribution  # noqa: F401  (the contribution page, routes of the draws blueprint)
    from ..draws.web.draws import bp as draws_bp
    from ..enforcement.web.cases import bp as cases_bp
    from ..enforcement.web.document_verification import bp as document_verification_bp
    from ..enforcement.web.public_verification import bp as public_verification_bp
    from ..enforcement.web.rectification import bp as rectification_bp
    from ..enforcement.web.rectification import rectification_for_case
    from ..field.web import assignments  # noqa: F401  (the assignment pages, routes of the draws blueprint)
    from ..field.web.inspections import bp as inspections_bp
    from ..field.web.phone_app import bp as field_app_bp
    from ..jobs.web.admin import bp as jobs_bp
    from ..jobs.web.pages import bp as job_pages_bp
    from ..oversight.web import home  # noqa: F401  (the landing page and dashboard routes of the site blueprint)
    from ..oversight.web.accountability import bp as accountability_bp
    from ..oversight.web.statistics import bp as statistics_bp
    from ..oversight.web.viewer import bp as viewer_bp
    from ..publicity import headlines  # noqa: F401  (the propaganda landing page's numbers, registered)
    from ..publicity.web.materials import bp as materials_bp
    from ..registry.web.venues import bp as venues_bp
    from .navigation import inject_navigation
    from .security_headers import init_security_headers
    from .site import bp

    init_auth(app)
    init_security_headers(app)
    app.context_processor(inject_navigation)
    app.register_blueprint(bp)
    app.register_blueprint(auth_bp)
    app.register_blueprint(draws_bp)
    app.register_blueprint(inspections_bp)
    app.register_blueprint(field_app_bp)
    app.register_blueprint(cases_bp)
    app.register_blueprint(rectification_bp)
    app.register_blueprint(public_verification_bp)
    app.register_blueprint(document_verification_bp)
    app.add_template_global(rectification_for_case, "rectification_for_case")
    app.register_blueprint(statistics_bp)
    app.register_blueprint(accountability_bp)
    app.register_blueprint(materials_bp)
    app.register_blueprint(audit_bp)
    app.register_blueprint(admin_bp)
    app.register_blueprint(jobs_bp)
    app.register_blueprint(job_pages_bp)
    app.register_blueprint(viewer_bp)
    app.register_blueprint(venues_bp)
    app.add_template_filter(local_text, "local_time")
