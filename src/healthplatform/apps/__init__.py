"""The composition roots: each process the commands start, assembled from the domains
(nothing below imports this package)."""
