"""Uploads domain: accept Health Connect files, track their processing status."""
