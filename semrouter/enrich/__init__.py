"""Request enrichment beyond model choice: logic that rewrites what the chosen model receives.

Kept apart from :mod:`semrouter.stages` so the ranking code is plain functions that unit tests and
the dry run call directly; the stages only decide when it runs and record what it did.
"""
