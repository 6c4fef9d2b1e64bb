"""What S3 shows of a stored file: its ETag whether or not anyone computed the bytes' MD5."""

from __future__ import annotations

import hashlib

from tusk_common.wire.versioning import FileContent
from tusk_ingest.s3 import tusk_meta

CONTENT_ID = "ab" * 32  # a BLAKE3 hex


def test_the_etag_is_the_md5_when_known_and_never_md5_shaped_when_not() -> None:
    md5 = hashlib.md5(b"x").hexdigest()
    assert tusk_meta.etag(FileContent(id=CONTENT_ID, size=1, md5=md5), None) == md5
    # Uploaded by chunks (the client cut and hashed them): no MD5. 32 bare hex digits would make aws
    # cli, rclone and s3fs check the bytes against it and report corruption; `HEX-1` they do not check.
    no_md5 = tusk_meta.etag(FileContent(id=CONTENT_ID, size=1, md5=None), None)
    assert no_md5 == f"{CONTENT_ID[:32]}-1"
    assert tusk_meta.etag(FileContent(id=CONTENT_ID, size=1, md5=None), {}) == no_md5  # stable per content
    stored = {tusk_meta.ETAG: "0123456789abcdef0123456789abcdef-3"}  # a multipart upload's own
    assert tusk_meta.etag(FileContent(id=CONTENT_ID, size=1, md5=md5), stored) == stored[tusk_meta.ETAG]
