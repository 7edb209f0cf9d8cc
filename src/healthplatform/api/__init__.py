"""The Health API application: routers, middleware, error handling, health and metrics."""
