"""The whole s3ocr deployment on one machine, from real parts: a local S3/SQS server (moto in server
mode), S3 event notifications into a queue, a poller that does what Lambda's SQS event source mapping
does, and the function itself under the Lambda Runtime Interface Emulator with ``awslambdaric``.

Used by ``make demo`` and by the integration tests; nothing here is imported by the Lambda function.
"""
