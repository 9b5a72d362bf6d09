"""Provider SDKs, unchanged, under test: the interception seam and what answers through it.

``intercept`` is the seam (patched transports, the Responder protocol); the modules beside it
answer through it. Nothing here imports an SDK or an HTTP library at import time.
"""
