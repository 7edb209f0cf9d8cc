"""Uploads domain: accept Health Connect files, track their processing status."""

# The description every upload of the web app's synthetic sample data carries (me.samples):
# history, days and trends label such data; it never becomes an AI-training example.
SAMPLE_DESCRIPTION = "Sample data (synthetic, not yours)"
