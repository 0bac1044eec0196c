"""Models, each with its training procedure.

Submodules are imported explicitly (``from drugshift.models.scdeal import ScDEAL``) so
that importing one model does not pull in the dependencies of the others.
"""
