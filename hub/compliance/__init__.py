"""Compliance submissions: pre-filled site reports, e-signatures, regulator access, bundles."""
