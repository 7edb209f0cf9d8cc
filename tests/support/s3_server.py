"""moto's S3 service behind uvicorn: HTTP/1.1 keep-alive like real S3 endpoints.

``moto_server`` runs on werkzeug's development server, which closes the connection after
every response; real S3 and OCI endpoints keep connections open, so the client's
connection pool (and its handling of connections the server dropped) is only exercised,
and only measured fairly in the benchmarks, against a server that keeps them.

Only moto's S3 application is served (the same routes and backend ``moto_server`` uses
for S3): its all-services front end works out the service of every request from the
host, the signature and a scan of moto's package folders, which cost ~0.9 ms of CPU per
request here (2.4 -> 1.5 ms per PUT, measured with ``make bench-api``'s bare PUTs).
The platform only speaks S3 to it. Usage: ``python -m tests.support.s3_server PORT``.
"""

from __future__ import annotations

import sys

import uvicorn
from a2wsgi import WSGIMiddleware
from moto.moto_server.werkzeug_app import create_backend_app


def main() -> None:
    s3 = create_backend_app("s3")
    s3.debug = False  # Flask's debug helpers, not needed to answer S3 requests
    uvicorn.run(
        WSGIMiddleware(s3, workers=4), host="127.0.0.1", port=int(sys.argv[1]), log_level="warning"
    )


if __name__ == "__main__":
    main()
