"""Gateway: in Kubernetes, Envoy Gateway routes and checks JWTs (deploy/charts); locally,
:mod:`local` serves the same paths under one origin from one process."""
