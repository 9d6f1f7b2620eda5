"""REST API blueprints (flask-smorest). The OpenAPI document is served at /api/openapi.json."""



def register_api(app) -> None:
    # Everything is imported here, not at the top: server.extensions imports this package's
    # problem schema, so this package must not import server.extensions when it loads.
    from ..accounts.api.auth import blp as auth_blp
    from ..draws.api.assignments import blp as assignments_blp
    from ..draws.api import seed_contributions  # noqa: F401  (a route of the draws blueprint)
    from ..draws.api.draws import blp as draws_blp
    from ..enforcement.api.cases import blp as cases_blp
    from ..enforcement.api.documents import blp as documents_blp
    from ..enforcement.api.legal_bases import blp as legal_bases_blp
    from ..enforcement.api.rectification import blp as rectification_blp
    from ..extensions import api_of, csrf
    from ..field.api.evidence import blp as evidence_blp
    from ..field.api.records import blp as parallel_records_blp
    from ..field.api.sync import blp as sync_blp
    from ..field.api.uploads import blp as uploads_blp
    from ..jobs.api.jobs import blp as jobs_blp
    from ..oversight.api.accountability import blp as accountability_blp
    from ..oversight.api.statistics import blp as statistics_blp
    from ..publicity.api.materials import blp as materials_blp
    from ..registry.api.reference import blp as reference_blp
    from ..registry.api.venues import blp as venues_blp

    api = api_of(app)
    for blueprint in (auth_blp, reference_blp, assignments_blp, draws_blp, uploads_blp, evidence_blp, sync_blp,
                      legal_bases_blp, cases_blp, documents_blp, rectification_blp, statistics_blp,
                      accountability_blp, materials_blp, parallel_records_blp, venues_blp, jobs_blp):
        api.register_blueprint(blueprint)
        # The API authenticates with bearer tokens, not cookies, so CSRF does not apply.
        csrf.exempt(blueprint)

    api.spec.components.security_scheme("bearerAuth", {"type": "http", "scheme": "bearer"})
