"""The upload pipeline every evidence file goes through: staff, the customer portal and e-mail.

``prepare_upload`` reads an untrusted file once, decides what it is from its bytes, proves it whole,
and returns what may be stored: images re-encoded without any metadata and with a thumbnail made
from the same decode; PDF and text logs (staff only) checked and stored as documents.
``CappedUploadHandler`` stops reading a request as soon as one file passes the size limit.
"""

from core.uploads.pipeline import Prepared, prepare_upload

__all__ = ["Prepared", "prepare_upload"]
