"""The ASGI edge: parse the AdmissionReview envelope, call the core, encode the answer."""
