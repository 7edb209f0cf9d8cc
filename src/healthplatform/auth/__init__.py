"""Passkey (WebAuthn) authentication service: relying party, JWT issuer, JWKS, device sessions.

Entry points: :func:`healthplatform.auth.app.create_auth_app`,
:func:`healthplatform.auth.migrate.upgrade`, :func:`healthplatform.auth.keys.rotate`.
"""
