"""moto's S3 backend behind uvicorn: HTTP/1.1 keep-alive like real S3 endpoints.

``moto_server`` runs on werkzeug's development server, which closes the connection after
every response; real S3 and OCI endpoints keep connections open, so the client's
connection pool (and its handling of connections the server dropped) is only exercised,
and only measured fairly in the benchmarks, against a server that keeps them.
Usage: ``python -m tests.support.s3_server PORT``.
"""

from __future__ import annotations

import sys

import uvicorn
from a2wsgi import WSGIMiddleware
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app


def main() -> None:
    app = WSGIMiddleware(DomainDispatcherApplication(create_backend_app), workers=4)
    uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning")


if __name__ == "__main__":
    main()
