"""Passkey (WebAuthn) authentication service: relying party, JWT issuer, JWKS, device sessions.

Entry points: :func:`healthplatform.auth.app.create_auth_app`,
:meth:`healthplatform.db.migrate.AUTH.upgrade`, :func:`healthplatform.auth.keys.rotate`.
"""
