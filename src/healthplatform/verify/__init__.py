"""The claim verifier: an independent recomputation of every number a narrative states.

Written apart from the metric and narrative code (it imports neither): it places nothing,
it takes the stored observations as placed, recomputes each claimed value its own way and
checks that each claim's text shows its value. Values a journal takes from earlier days
(``history.*``) are recomputed from those days' stored metrics, each verified when its own
day was derived. ``healthplatform verify`` (``ops.audit``) runs it over stored data; the ETL
runs it before publishing a narrative. Entry points: ``verify.check.facts`` and
``verify.check.check``.
"""
