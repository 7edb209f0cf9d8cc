"""The caller's own data: erase (and, with the narrative engine, export)."""

# The description every upload of the web app's synthetic sample data carries (me.samples):
# history, days and trends label such data; it never becomes an AI-training example.
SAMPLE_DESCRIPTION = "Sample data (synthetic, not yours)"
