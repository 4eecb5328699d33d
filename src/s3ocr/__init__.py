"""s3ocr: serverless OCR pipeline for S3 objects."""

from __future__ import annotations

__version__ = "0.1.0"
