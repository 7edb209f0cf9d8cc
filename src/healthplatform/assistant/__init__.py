"""The AI-assistant interface: a Model Context Protocol server over a person's own data
(docs/assistant.md). Read-only, audited, answers carry the claims' provenance."""
