"""Resumable multipart upload of one file to Object Storage, parts in parallel.

Written on the SDK's own calls (create/list/upload-part/commit/abort) rather than its
UploadManager, whose resume needs the upload id from the run that was interrupted. Here a
rerun finds the upload by object name (ListMultipartUploads), reads its parts
(ListMultipartUploadParts), and sends only the parts that are missing or whose size or MD5
differ from the local file's.

Every part is sent with its `Content-MD5` (the service refuses a body that does not match)
and the `opc-content-md5` the service answers is checked against it; the commit's
`opc-multipart-md5` is checked against the MD5s of all parts.

An upload that fails or is interrupted is kept for the next run to resume: its parts count
against the bucket's storage until it is committed or aborted (`abort_uploads`, or
`freetier images publish NAME --arch ARCH --abort`).
"""

from __future__ import annotations

import base64
import hashlib
import math
import queue
from collections.abc import Sequence
from concurrent.futures import FIRST_EXCEPTION, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import oci

from freetier.errors import ConfigError, RemoteError
from freetier.images.options import MIB
from freetier.images.publish_progress import Progress
from freetier.object_storage import Bucket
from freetier.oci_clients import call, list_all

DEFAULT_PART_SIZE = 32 * MIB
MAX_PARTS = 10_000
READ_CHUNK = 8 * MIB


@dataclass(frozen=True)
class PartSpec:
    """Part `number` (1-based) is `size` bytes of the file from `offset`."""

    number: int
    offset: int
    size: int


@dataclass(frozen=True)
class RemotePart:
    number: int
    size: int
    md5: str
    etag: str


@dataclass(frozen=True)
class UploadResult:
    object_name: str
    upload_id: str
    size: int
    uploaded_parts: tuple[int, ...]
    skipped_parts: tuple[int, ...]
    bytes_sent: int
    multipart_md5: str
    seconds: float


def plan_parts(size: int, part_size: int) -> list[PartSpec]:
    """Split `size` bytes into parts of `part_size` (grown when it would take more than
    10,000 parts, OCI's limit).

    >>> [(p.number, p.offset, p.size) for p in plan_parts(10, 4)]
    [(1, 0, 4), (2, 4, 4), (3, 8, 2)]
    """
    if size <= 0:
        raise ConfigError(["cannot upload an empty file"])
    part_size = max(part_size, math.ceil(size / MAX_PARTS))
    return [
        PartSpec(i + 1, offset, min(part_size, size - offset))
        for i, offset in enumerate(range(0, size, part_size))
    ]


def md5_b64(data: bytes) -> str:
    return base64.b64encode(hashlib.md5(data).digest()).decode()  # noqa: S324 - OCI's checksum


def multipart_md5(part_md5s: Sequence[str]) -> str:
    """What OCI answers as `opc-multipart-md5`: the MD5 of the parts' raw MD5s, `-<count>`.

    >>> multipart_md5([md5_b64(b"a"), md5_b64(b"b")])
    'luAkuiB0/nfo6WW6Q6cEvg==-2'
    """
    raw = b"".join(base64.b64decode(value) for value in part_md5s)
    return f"{md5_b64(raw)}-{len(part_md5s)}"


def read_part(path: Path, part: PartSpec) -> bytes:
    with path.open("rb") as handle:
        handle.seek(part.offset)
        data = handle.read(part.size)
    if len(data) != part.size:
        raise ConfigError([f"{path}: changed while uploading (part {part.number} is short)"])
    return data


def find_upload(bucket: Bucket, object_name: str) -> str | None:
    """The newest unfinished multipart upload of `object_name`, if any."""
    uploads = [
        u
        for u in list_all(bucket.client.list_multipart_uploads, bucket.namespace, bucket.name)
        if u.object == object_name
    ]
    uploads.sort(key=lambda u: str(u.time_created or ""))
    return str(uploads[-1].upload_id) if uploads else None


def remote_parts(bucket: Bucket, object_name: str, upload_id: str) -> dict[int, RemotePart]:
    parts = list_all(
        bucket.client.list_multipart_upload_parts,
        bucket.namespace,
        bucket.name,
        object_name,
        upload_id,
    )
    return {
        int(p.part_number): RemotePart(int(p.part_number), int(p.size), str(p.md5), str(p.etag))
        for p in parts
    }


def abort_uploads(bucket: Bucket, prefix: str, *, keep: str | None = None) -> list[str]:
    """Abort every unfinished upload whose object name starts with `prefix` (but `keep`);
    returns the object names aborted."""
    aborted: list[str] = []
    for upload in list_all(bucket.client.list_multipart_uploads, bucket.namespace, bucket.name):
        name = str(upload.object)
        if name.startswith(prefix) and name != keep:
            call(
                bucket.client.abort_multipart_upload,
                bucket.namespace,
                bucket.name,
                name,
                str(upload.upload_id),
            )
            aborted.append(name)
    return aborted


def upload_file(
    bucket: Bucket,
    object_name: str,
    path: Path,
    *,
    clients: Sequence[Any] | None = None,
    part_size: int = DEFAULT_PART_SIZE,
    metadata: dict[str, str] | None = None,
    progress: Progress | None = None,
) -> UploadResult:
    """Upload `path` as `object_name`, resuming an unfinished upload of the same name.

    `clients` (default: the bucket's one) are the SDK clients the parts go through, one
    thread each: their count is the number of parts in flight."""
    workers = list(clients or [bucket.client])
    parts = plan_parts(path.stat().st_size, part_size)
    size = parts[-1].offset + parts[-1].size
    progress = progress or Progress(None, object_name, size)
    upload_id = find_upload(bucket, object_name)
    remote = {} if upload_id is None else remote_parts(bucket, object_name, upload_id)
    if upload_id is None:
        upload_id = _create_upload(bucket, object_name, metadata or {})
    done: dict[int, RemotePart] = {}
    todo: list[PartSpec] = []
    for part in parts:
        have = remote.get(part.number)
        if have and have.size == part.size and have.md5 == md5_b64(read_part(path, part)):
            done[part.number] = have
            progress.skip(part.size)
        else:
            todo.append(part)
    skipped = tuple(sorted(done))
    try:
        _send_parts(bucket, workers, object_name, upload_id, path, todo, done, progress)
    except RemoteError as exc:
        raise RemoteError(
            f"{exc} (upload of {object_name} kept with {len(done)} of {len(parts)} parts: "
            "rerun to resume, or --abort to discard it)"
        ) from None
    digest = _commit(bucket, object_name, upload_id, parts, done, set(remote))
    progress.finish()
    return UploadResult(
        object_name=object_name,
        upload_id=upload_id,
        size=size,
        uploaded_parts=tuple(p.number for p in todo),
        skipped_parts=skipped,
        bytes_sent=sum(p.size for p in todo),
        multipart_md5=digest,
        seconds=progress.seconds,
    )


def _create_upload(bucket: Bucket, object_name: str, metadata: dict[str, str]) -> str:
    details = oci.object_storage.models.CreateMultipartUploadDetails(
        object=object_name,
        content_type="application/octet-stream",
        metadata={f"opc-meta-{k}": v for k, v in metadata.items()} or None,
    )
    created = call(bucket.client.create_multipart_upload, bucket.namespace, bucket.name, details)
    return str(created.data.upload_id)


def _send_parts(
    bucket: Bucket,
    workers: list[Any],
    object_name: str,
    upload_id: str,
    path: Path,
    todo: list[PartSpec],
    done: dict[int, RemotePart],
    progress: Progress,
) -> None:
    """Send `todo` through a pool of one thread per client; on the first failure stop
    starting parts, let the ones in flight finish, and raise it."""
    if not todo:
        return
    idle: queue.SimpleQueue[Any] = queue.SimpleQueue()
    for client in workers:
        idle.put(client)

    def send(part: PartSpec) -> RemotePart:
        client = idle.get()
        try:
            return _send_part(bucket.with_client(client), object_name, upload_id, path, part)
        finally:
            idle.put(client)

    pool = ThreadPoolExecutor(max_workers=len(workers), thread_name_prefix="upload-part")
    try:
        pending: set[Future[RemotePart]] = {pool.submit(send, part) for part in todo}
        while pending:
            finished, pending = wait(pending, return_when=FIRST_EXCEPTION)
            errors = [e for e in (f.exception() for f in finished) if e is not None]
            for future in finished:
                if future.exception() is None:
                    sent = future.result()
                    done[sent.number] = sent
                    progress.advance(sent.size)
            if errors:
                raise errors[0]
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def _send_part(
    bucket: Bucket, object_name: str, upload_id: str, path: Path, part: PartSpec
) -> RemotePart:
    data = read_part(path, part)
    md5 = md5_b64(data)
    response = call(
        bucket.client.upload_part,
        bucket.namespace,
        bucket.name,
        object_name,
        upload_id,
        part.number,
        data,
        content_md5=md5,
        content_length=len(data),
    )
    stored = response.headers.get("opc-content-md5")
    if stored != md5:
        raise RemoteError(
            f"OCI ObjectStorageClient upload_part: part {part.number} of {object_name}: the "
            f"service stored MD5 {stored}, the file's is {md5}"
        )
    return RemotePart(part.number, part.size, md5, str(response.headers.get("etag")))


def _commit(
    bucket: Bucket,
    object_name: str,
    upload_id: str,
    parts: list[PartSpec],
    done: dict[int, RemotePart],
    remote: set[int],
) -> str:
    numbers = [p.number for p in parts]
    models = oci.object_storage.models
    details = models.CommitMultipartUploadDetails(
        parts_to_commit=[
            models.CommitMultipartUploadPartDetails(part_num=n, etag=done[n].etag) for n in numbers
        ],
        # Parts of an earlier, longer file (a rerun after a rebuild) are not the object's.
        parts_to_exclude=sorted(remote - set(numbers)) or None,
    )
    response = call(
        bucket.client.commit_multipart_upload,
        bucket.namespace,
        bucket.name,
        object_name,
        upload_id,
        details,
    )
    expected = multipart_md5([done[n].md5 for n in numbers])
    answered = response.headers.get("opc-multipart-md5")
    if answered != expected:
        raise RemoteError(
            f"OCI ObjectStorageClient commit_multipart_upload: {object_name}: the service's "
            f"multipart MD5 {answered} is not the file's {expected}"
        )
    return expected


__all__ = [
    "DEFAULT_PART_SIZE",
    "PartSpec",
    "UploadResult",
    "abort_uploads",
    "find_upload",
    "multipart_md5",
    "plan_parts",
    "upload_file",
]
