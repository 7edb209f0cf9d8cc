"""The web app (issue #5): a static single-page front end served by the platform.

``app.include_router(router)`` or ``install(app)`` serves ``/`` and ``/static/...``.
"""

from healthplatform.web.routes import install, router

__all__ = ["install", "router"]
