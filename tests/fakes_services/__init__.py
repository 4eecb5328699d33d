"""Loopback HTTP fakes of the cloud OCR services, speaking each service's documented protocol.

Each fake is a real HTTP(S) server on 127.0.0.1 in a thread (``server.LoopbackService``). It checks the
request the way the service would (auth, parameters, image encoding and limits), reads the image it
received with the real Tesseract (``reading.read_image``) so its answers are geometrically real, and can
be told to fail the next requests with the service's own error responses (``fail_next``). A new service
fake subclasses ``LoopbackService`` and maps the generic failure kinds in ``FAILURE_KINDS``.
"""
