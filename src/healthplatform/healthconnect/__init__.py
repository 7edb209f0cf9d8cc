"""Health Connect record types exported by the Android app, and safe decoding of their files."""
