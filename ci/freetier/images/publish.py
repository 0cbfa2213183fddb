"""`freetier images publish`: an image file becomes an OCI custom image whose OCID tofu/oci
reads, imported as its `ImportRecipe` says (a built qcow2 as QCOW2; Talos as its pinned
version's recipe, `freetier.images.recipes`).

    upload (multipart, resumable) -> CreateImage from the object -> wait IMPORTING -> AVAILABLE
    -> delete the object (it counts against the 20 GB allowance) -> firmware, shape
    compatibility -> tofu/oci/images.auto.tfvars.json

Names come from the file's SHA-256, so a rerun recognises its own work: the object is
`NAME-ARCH-<sha16>.<qcow2|oci|vmdk>` and the image `NAME-ARCH-<sha16>`. A rerun after an
interrupted upload resumes it; after an interrupted wait it waits for the same image; after a
success it only checks the image and rewrites the OCID. A new build (another SHA) aborts the
unfinished uploads of older builds of the same NAME-ARCH.

On failure nothing half-done is left: a CreateImage that OCI refuses has its object deleted,
an import that fails or times out has its image and its object deleted, and tfvars is written
only after everything else succeeded. The one
exception is on purpose: an upload that fails or is interrupted stays, for the next run to
resume (`--abort` discards it).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from freetier.errors import ConfigError, RemoteError
from freetier.files import write_files
from freetier.image_ocids import TFVARS, read_tfvars, tfvars_text
from freetier.images.importer import (
    SHAPES,
    ImageSource,
    ImportFailed,
    Waiting,
    add_shape,
    compute_client_class,
    delete_image,
    find_image,
    set_firmware,
    start_import,
    wait_for_import,
)
from freetier.images.options import ARCHES, DEFAULT_PARALLEL, MIB, Arch
from freetier.images.publish_progress import Progress
from freetier.images.publish_upload import (
    DEFAULT_PART_SIZE,
    abort_uploads,
    upload_file,
)
from freetier.images.recipes import ImportRecipe, built_recipe
from freetier.object_storage import (
    Bucket,
    bucket_exists,
    delete_object,
    ensure_bucket,
    head_object,
    object_client,
    open_bucket,
)
from freetier.oci_clients import DEFAULT_RETRY, RetryPolicy, make_client
from freetier.stack.model import Stack

SHA_META = "opc-meta-sha256"
HASH_CHUNK = 8 * MIB


@dataclass(frozen=True)
class PublishResult:
    image_ocid: str
    uploaded_parts: int
    skipped_parts: int
    bytes: int  # sent this run
    display_name: str = ""
    reused: bool = False  # an image of this very file was already importing or there


@dataclass(frozen=True)
class PublishOptions:
    """The knobs of a publish run that are not the image itself."""

    part_size: int = DEFAULT_PART_SIZE
    parallel: int = DEFAULT_PARALLEL
    waiting: Waiting = field(default_factory=Waiting)
    retry: RetryPolicy = DEFAULT_RETRY
    env: Mapping[str, str] | None = None


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(HASH_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def image_key(name: str, arch: str, sha256: str) -> str:
    """The display name of the image, and (with the recipe's extension) of the object.

    >>> image_key("base", "arm64", "0123456789abcdef" * 4)
    'base-arm64-0123456789abcdef'
    """
    return f"{name}-{arch}-{sha256[:16]}"


def check_arch(arch: str) -> Arch:
    for known in ARCHES:
        if arch == known:
            return known
    raise ConfigError([f"--arch: unknown architecture {arch!r} (arm64 or amd64)"])


def publish_image(
    image_file: Path,
    *,
    stack: Stack,
    config: Mapping[str, Any],
    name: str,
    arch: str,
    os_name: str,
    os_version: str,
    progress: TextIO | None = None,
    part_size: int = DEFAULT_PART_SIZE,
    parallel: int = DEFAULT_PARALLEL,
    tofu_dir: Path = Path("tofu/oci"),
    options: PublishOptions | None = None,
    recipe: ImportRecipe | None = None,
) -> PublishResult:
    """Upload `image_file`, import it as a custom image in the stack's compartment as
    `recipe` says (default: a built qcow2), make it bootable on the architecture's Always
    Free shape, and record its OCID in `tofu_dir/images.auto.tfvars.json`. `options`
    overrides the wait, the retry policy and the environment (its part size and parallelism
    are replaced by the arguments)."""
    arch_ = check_arch(arch)
    recipe_ = recipe or built_recipe(arch_)
    opts = _options(options, part_size, parallel)
    if not image_file.is_file():
        raise ConfigError([f"{image_file}: no such image file"])
    if image_file.stat().st_size == 0:
        raise ConfigError([f"{image_file}: empty image file"])
    compartment = stack.oci.compartment_ocid
    clients = [object_client(config, retry=opts.retry, env=opts.env) for _ in range(opts.parallel)]
    compute = make_client(compute_client_class(), config, retry=opts.retry, env=opts.env)
    bucket = open_bucket(clients[0], stack.images.bucket)
    sha256 = file_sha256(image_file)
    key = image_key(name, arch_, sha256)
    source = ImageSource(
        compartment,
        key,
        bucket.namespace,
        bucket.name,
        f"{key}.{recipe_.extension}",
        os_name,
        os_version,
        recipe_.source_image_type,
        recipe_.launch_mode,
    )
    uploaded: tuple[int, ...] = ()
    skipped: tuple[int, ...] = ()
    sent = 0
    image = find_image(compute, compartment, key)
    reused = image is not None
    if image is None:
        ensure_bucket(bucket, compartment)
        abort_uploads(bucket, f"{name}-{arch_}-", keep=source.object_name)
        if (head_object(bucket, source.object_name) or {}).get(SHA_META) != sha256:
            label = f"upload {source.object_name}"
            shown = Progress(progress, label, image_file.stat().st_size)
            done = upload_file(
                bucket,
                source.object_name,
                image_file,
                clients=clients,
                part_size=opts.part_size,
                metadata={"sha256": sha256},
                progress=shown,
            )
            uploaded, skipped, sent = done.uploaded_parts, done.skipped_parts, done.bytes_sent
        image = _start_or_clean_up(compute, bucket, source)
    _say(progress, f"import {key}: {image.id} {image.lifecycle_state}")
    image = _wait_or_clean_up(compute, bucket, source, image.id, opts.waiting)
    delete_object(bucket, source.object_name)
    if recipe_.set_firmware is not None:
        set_firmware(compute, compartment, image.id, recipe_.set_firmware)
    add_shape(compute, image.id, SHAPES[arch_])
    write_image_ocid(tofu_dir, arch_, str(image.id))
    return PublishResult(
        image_ocid=str(image.id),
        uploaded_parts=len(uploaded),
        skipped_parts=len(skipped),
        bytes=sent,
        display_name=key,
        reused=reused,
    )


def _options(options: PublishOptions | None, part_size: int, parallel: int) -> PublishOptions:
    if part_size < MIB:
        raise ConfigError([f"part size {part_size} bytes: at least 1 MiB"])
    if not 1 <= parallel <= 32:
        raise ConfigError([f"parallel {parallel}: between 1 and 32 parts in flight"])
    base = options or PublishOptions()
    return PublishOptions(part_size, parallel, base.waiting, base.retry, base.env)


def _start_or_clean_up(compute: Any, bucket: Bucket, source: ImageSource) -> Any:
    """CreateImage; when OCI refuses it (after the client's retries), delete the object."""
    try:
        return start_import(compute, source)
    except RemoteError as exc:
        delete_object(bucket, source.object_name)
        raise RemoteError(f"{exc}; object {source.object_name} deleted") from None


def _wait_or_clean_up(
    compute: Any, bucket: Bucket, source: ImageSource, image_id: str, waiting: Waiting
) -> Any:
    """Wait for the import; when it fails or times out, delete the image and the object
    before raising, so nothing is left half-done."""
    try:
        return wait_for_import(compute, image_id, waiting)
    except ImportFailed as failed:
        delete_image(compute, failed.image_id)
        delete_object(bucket, source.object_name)
        raise ImportFailed(
            f"{failed}; image {failed.image_id} and object {source.object_name} deleted",
            failed.image_id,
        ) from None


def abort_publish(
    stack: Stack,
    config: Mapping[str, Any],
    *,
    name: str,
    arch: str,
    retry: RetryPolicy = DEFAULT_RETRY,
    env: Mapping[str, str] | None = None,
) -> list[str]:
    """`--abort`: abort every unfinished upload of NAME-ARCH; the object names aborted."""
    arch_ = check_arch(arch)
    bucket = open_bucket(object_client(config, retry=retry, env=env), stack.images.bucket)
    if not bucket_exists(bucket):
        return []
    return abort_uploads(bucket, f"{name}-{arch_}-")


def write_image_ocid(tofu_dir: Path, arch: Arch, ocid: str) -> Path:
    """Set `image_ocids[arch]` in `tofu_dir/images.auto.tfvars.json`, keeping the other
    architecture's OCID and any other key; written atomically."""
    path = tofu_dir / TFVARS
    current = read_tfvars(path) if path.exists() else {}
    ocids = dict(current.get("image_ocids", {}))
    ocids[arch] = ocid
    write_files(tofu_dir, {TFVARS: tfvars_text({**current, "image_ocids": ocids})})
    return path


def _say(stream: TextIO | None, line: str) -> None:
    if stream is not None:
        stream.write(line + "\n")
        stream.flush()
