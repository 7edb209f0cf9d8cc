"""Deployment checks and capacity planning (never imported by the runtime packages)."""
