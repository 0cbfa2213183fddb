"""The fake OCI server's own rules, driven by the real oci SDK (and by bare HTTP where the SDK
would never send the request: unsigned, stale, forged)."""

from __future__ import annotations

import base64
import email.utils
import hashlib
import json
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import oci
import pytest
import requests

from freetier.oci_clients import RetryPolicy, load_oci_config, make_client
from tests.fakes.oci_server import FakeTenancy, fake_tenancy, write_oci_credentials

NO_RETRY = RetryPolicy(max_attempts=1)


@pytest.fixture
def tenancy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeTenancy]:
    with fake_tenancy(tmp_path, monkeypatch.setenv, page_size=2) as running:
        yield running


def _client(tenancy: FakeTenancy, cls: Any, home: Path) -> Any:
    return make_client(cls, load_oci_config(tenancy.env, home), retry=NO_RETRY)


def _raw(url: str, headers: dict[str, str] | None = None) -> tuple[int, dict[str, Any], Any]:
    request = urllib.request.Request(url, headers=headers or {})  # noqa: S310 - http to 127.0.0.1
    try:
        with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310
            return response.status, dict(response.headers), json.load(response)
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), json.load(exc)


def test_pages_follow_opc_next_page_until_the_last(tenancy: FakeTenancy, tmp_path: Path) -> None:
    fake = tenancy.fake
    compartment = fake.add_compartment()
    names = [f"vcn-{i}" for i in range(5)]
    for i, name in enumerate(names):
        fake.add_vcn(compartment, name, [f"10.{i}.0.0/16"])
    network = _client(tenancy, oci.core.VirtualNetworkClient, tmp_path)

    first = network.list_vcns(compartment)
    assert [v.display_name for v in first.data] == names[:2]
    assert first.has_next_page
    second = network.list_vcns(compartment, page=first.next_page)
    assert [v.display_name for v in second.data] == names[2:4]
    last = network.list_vcns(compartment, page=second.next_page)
    assert [v.display_name for v in last.data] == names[4:]
    assert not last.has_next_page
    assert [v.cidr_blocks for v in last.data] == [["10.4.0.0/16"]]

    one = network.list_vcns(compartment, limit=1)
    assert len(one.data) == 1 and one.has_next_page

    every = oci.pagination.list_call_get_all_results(network.list_vcns, compartment)
    assert [v.display_name for v in every.data] == names


def test_bad_page_token_and_limit_are_400(tenancy: FakeTenancy, tmp_path: Path) -> None:
    compartment = tenancy.fake.add_compartment()
    network = _client(tenancy, oci.core.VirtualNetworkClient, tmp_path)
    for kwargs in ({"page": "not-a-token"}, {"limit": 0}, {"limit": 5000}):
        with pytest.raises(oci.exceptions.ServiceError) as info:
            network.list_vcns(compartment, **kwargs)
        assert (info.value.status, info.value.code) == (400, "InvalidParameter")


def test_nlb_list_is_a_collection_object(tenancy: FakeTenancy, tmp_path: Path) -> None:
    fake = tenancy.fake
    compartment = fake.add_compartment()
    for name in ("a", "b", "c"):
        fake.add_network_load_balancer(compartment, name)
    nlbs = _client(tenancy, oci.network_load_balancer.NetworkLoadBalancerClient, tmp_path)

    page = nlbs.list_network_load_balancers(compartment)
    assert isinstance(page.data, oci.network_load_balancer.models.NetworkLoadBalancerCollection)
    assert [n.display_name for n in page.data.items] == ["a", "b"]
    every = oci.pagination.list_call_get_all_results(nlbs.list_network_load_balancers, compartment)
    assert [n.display_name for n in every.data] == ["a", "b", "c"]


def test_lists_are_filtered_by_compartment(tenancy: FakeTenancy, tmp_path: Path) -> None:
    fake = tenancy.fake
    mine, other = fake.add_compartment(), fake.add_compartment()
    fake.add_instance(mine, "mine")
    fake.add_instance(other, "theirs")
    compute = _client(tenancy, oci.core.ComputeClient, tmp_path)

    assert [i.display_name for i in compute.list_instances(mine).data] == ["mine"]
    assert [i.display_name for i in compute.list_instances(other).data] == ["theirs"]
    with pytest.raises(oci.exceptions.ServiceError) as info:
        compute.list_instances("ocid1.compartment.oc1..unknown")
    assert (info.value.status, info.value.code) == (404, "NotAuthorizedOrNotFound")


def test_boot_volume_attachments_need_an_availability_domain(
    tenancy: FakeTenancy, tmp_path: Path
) -> None:
    fake = tenancy.fake
    compartment = fake.add_compartment()
    instance = fake.add_instance(compartment, "cp")
    volume = fake.add_boot_volume(compartment, "cp boot", attached_to=instance)
    compute = _client(tenancy, oci.core.ComputeClient, tmp_path)

    ad1, ad2 = fake.availability_domains
    attachments = compute.list_boot_volume_attachments(ad1, compartment).data
    assert [(a.boot_volume_id, a.instance_id) for a in attachments] == [(volume, instance)]
    assert compute.list_boot_volume_attachments(ad2, compartment).data == []


def test_public_ips_filter_on_scope_and_lifetime(tenancy: FakeTenancy, tmp_path: Path) -> None:
    fake = tenancy.fake
    compartment = fake.add_compartment()
    fake.add_public_ip(compartment, "192.0.2.1", display_name="reserved")
    fake.add_public_ip(compartment, "192.0.2.2", display_name="eph", lifetime="EPHEMERAL")
    network = _client(tenancy, oci.core.VirtualNetworkClient, tmp_path)

    reserved = network.list_public_ips("REGION", compartment, lifetime="RESERVED").data
    assert [(ip.display_name, ip.lifetime) for ip in reserved] == [("reserved", "RESERVED")]
    ad = fake.availability_domains[0]
    ephemeral = network.list_public_ips(
        "AVAILABILITY_DOMAIN", compartment, availability_domain=ad
    ).data
    assert [ip.ip_address for ip in ephemeral] == ["192.0.2.2"]


def test_bucket_sizes_only_when_asked(tenancy: FakeTenancy, tmp_path: Path) -> None:
    fake = tenancy.fake
    compartment = fake.add_compartment()
    fake.add_bucket(compartment, "logs", approximate_size=1234)
    objects = _client(tenancy, oci.object_storage.ObjectStorageClient, tmp_path)

    namespace = objects.get_namespace().data
    assert namespace == fake.namespace
    assert [b.name for b in objects.list_buckets(namespace, compartment).data] == ["logs"]
    assert objects.get_bucket(namespace, "logs").data.approximate_size is None
    sized = objects.get_bucket(namespace, "logs", fields=["approximateSize"]).data
    assert sized.approximate_size == 1234
    with pytest.raises(oci.exceptions.ServiceError) as info:
        objects.get_bucket(namespace, "nope")
    assert (info.value.status, info.value.code) == (404, "BucketNotFound")


def test_unsigned_requests_are_refused(tenancy: FakeTenancy) -> None:
    compartment = tenancy.fake.add_compartment()
    status, headers, body = _raw(f"{tenancy.fake.url}/20160918/vcns?compartmentId={compartment}")
    assert status == 401
    assert body["code"] == "NotAuthenticated"
    assert headers.get("opc-request-id")
    assert tenancy.fake.requests[-1].key_id is None


def test_unknown_key_and_forged_signature_are_refused(tenancy: FakeTenancy, tmp_path: Path) -> None:
    compartment = tenancy.fake.add_compartment()
    (tmp_path / "stranger").mkdir()
    stranger = write_oci_credentials(tmp_path / "stranger")
    config = load_oci_config({"OCI_CLI_CONFIG_FILE": str(stranger.config_file)}, tmp_path)
    network = make_client(oci.core.VirtualNetworkClient, config, retry=NO_RETRY)
    with pytest.raises(oci.exceptions.ServiceError) as info:
        network.list_vcns(compartment)
    assert (info.value.status, info.value.code) == (401, "NotAuthenticated")

    # The right keyId, signed with another key: the signature does not verify.
    forged = dict(
        config, user=tenancy.credentials.user, fingerprint=tenancy.credentials.fingerprint
    )
    network = make_client(oci.core.VirtualNetworkClient, forged, retry=NO_RETRY)
    with pytest.raises(oci.exceptions.ServiceError) as info:
        network.list_vcns(compartment)
    assert (info.value.status, info.value.code) == (401, "NotAuthenticated")
    assert "signature" in info.value.message


def test_stale_date_is_refused(tenancy: FakeTenancy) -> None:
    compartment = tenancy.fake.add_compartment()
    creds = tenancy.credentials
    signer = oci.signer.Signer(creds.tenancy, creds.user, creds.fingerprint, str(creds.key_file))
    url = f"{tenancy.fake.url}/20160918/vcns?compartmentId={compartment}"
    fresh = requests.get(url, auth=signer, timeout=5)
    assert fresh.status_code == 200, fresh.text
    stale_date = email.utils.formatdate(time.time() - 3600, usegmt=True)
    stale = requests.get(url, auth=signer, headers={"date": stale_date}, timeout=5)
    assert stale.status_code == 401
    assert stale.json()["code"] == "NotAuthenticated"


def test_injected_faults_then_recovery(tenancy: FakeTenancy, tmp_path: Path) -> None:
    fake = tenancy.fake
    compartment = fake.add_compartment()
    fake.add_vcn(compartment, "v", ["10.0.0.0/16"])
    fake.inject("/20160918/vcns", 429, "TooManyRequests", times=2)
    network = _client(tenancy, oci.core.VirtualNetworkClient, tmp_path)

    for _ in range(2):
        with pytest.raises(oci.exceptions.ServiceError) as info:
            network.list_vcns(compartment)
        assert (info.value.status, info.value.code) == (429, "TooManyRequests")
    assert [v.display_name for v in network.list_vcns(compartment).data] == ["v"]
    assert [r.status for r in fake.seen("/20160918/vcns")] == [429, 429, 200]


def test_unknown_paths_are_404(tenancy: FakeTenancy, tmp_path: Path) -> None:
    creds = tenancy.credentials
    signer = oci.signer.Signer(creds.tenancy, creds.user, creds.fingerprint, str(creds.key_file))
    response = requests.get(f"{tenancy.fake.url}/20160918/nothing", auth=signer, timeout=5)
    assert response.status_code == 404
    assert response.json()["code"] == "NotFound"


# --- Object Storage: objects and multipart uploads ------------------------------------------


def _objects(tenancy: FakeTenancy, home: Path) -> tuple[Any, str, str]:
    """An ObjectStorageClient, the namespace, and a fresh bucket's name."""
    compartment = tenancy.fake.add_compartment()
    tenancy.fake.add_bucket(compartment, "images")
    return _client(tenancy, oci.object_storage.ObjectStorageClient, home), "freetierfake", "images"


def _md5(data: bytes) -> str:
    return base64.b64encode(hashlib.md5(data).digest()).decode()  # noqa: S324


def _start(client: Any, ns: str, bucket: str, name: str) -> str:
    details = oci.object_storage.models.CreateMultipartUploadDetails(object=name)
    return str(client.create_multipart_upload(ns, bucket, details).data.upload_id)


def _commit(
    client: Any, ns: str, bucket: str, name: str, upload: str, etags: dict[int, str]
) -> Any:
    models = oci.object_storage.models
    details = models.CommitMultipartUploadDetails(
        parts_to_commit=[
            models.CommitMultipartUploadPartDetails(part_num=n, etag=e) for n, e in etags.items()
        ]
    )
    return client.commit_multipart_upload(ns, bucket, name, upload, details)


def test_multipart_upload_assembles_parts_in_order(tenancy: FakeTenancy, tmp_path: Path) -> None:
    client, ns, bucket = _objects(tenancy, tmp_path)
    upload = _start(client, ns, bucket, "disk.qcow2")
    etags = {}
    for number, data in ((2, b"world"), (1, b"hello ")):
        answer = client.upload_part(
            ns, bucket, "disk.qcow2", upload, number, data, content_md5=_md5(data)
        )
        assert answer.headers["opc-content-md5"] == _md5(data)
        etags[number] = answer.headers["etag"]

    parts = oci.pagination.list_call_get_all_results(
        client.list_multipart_upload_parts, ns, bucket, "disk.qcow2", upload
    ).data
    assert [(p.part_number, p.size, p.md5) for p in parts] == [
        (1, 6, _md5(b"hello ")),
        (2, 5, _md5(b"world")),
    ]
    committed = _commit(client, ns, bucket, "disk.qcow2", upload, dict(sorted(etags.items())))

    raw = base64.b64decode(_md5(b"hello ")) + base64.b64decode(_md5(b"world"))
    assert committed.headers["opc-multipart-md5"] == f"{_md5(raw)}-2"
    assert client.get_object(ns, bucket, "disk.qcow2").data.content == b"hello world"
    head = client.head_object(ns, bucket, "disk.qcow2")
    assert head.headers["content-length"] == "11"
    assert client.list_multipart_uploads(ns, bucket).data == []


def test_upload_checks_content_md5_and_commit_checks_parts(
    tenancy: FakeTenancy, tmp_path: Path
) -> None:
    client, ns, bucket = _objects(tenancy, tmp_path)
    upload = _start(client, ns, bucket, "x")
    with pytest.raises(oci.exceptions.ServiceError) as info:
        client.upload_part(ns, bucket, "x", upload, 1, b"data", content_md5=_md5(b"other"))
    assert (info.value.status, info.value.code) == (400, "UnmatchedContentMD5")
    one = client.upload_part(ns, bucket, "x", upload, 1, b"one").headers["etag"]
    two = client.upload_part(ns, bucket, "x", upload, 2, b"two").headers["etag"]
    for etags in ({1: "wrong"}, {1: one}):  # a wrong etag; part 2 neither committed nor excluded
        with pytest.raises(oci.exceptions.ServiceError) as info:
            _commit(client, ns, bucket, "x", upload, etags)
        assert (info.value.status, info.value.code) == (400, "InvalidParameter")
    _commit(client, ns, bucket, "x", upload, {1: one, 2: two})
    with pytest.raises(oci.exceptions.ServiceError) as info:
        client.upload_part(ns, bucket, "x", upload, 3, b"late")
    assert (info.value.status, info.value.code) == (404, "NoSuchUpload")


def test_put_object_conditions_are_atomic_and_ignorable(
    tenancy: FakeTenancy, tmp_path: Path
) -> None:
    """OCI's answers (412 IfNoneMatchFailed / IfMatchFailed, the object unchanged); ETags are
    UUIDs; `ignore_conditions` is the store that silently ignores them."""
    client, ns, bucket = _objects(tenancy, tmp_path)
    first = client.put_object(ns, bucket, "lock", b"one", if_none_match="*").headers["etag"]
    for kwargs in ({"if_none_match": "*"}, {"if_match": "stale"}):
        with pytest.raises(oci.exceptions.ServiceError) as info:
            client.put_object(ns, bucket, "lock", b"two", **kwargs)
        expected = "IfNoneMatchFailed" if "if_none_match" in kwargs else "IfMatchFailed"
        assert (info.value.status, info.value.code) == (412, expected)
    assert client.get_object(ns, bucket, "lock").data.content == b"one"
    with pytest.raises(oci.exceptions.ServiceError) as info:
        client.delete_object(ns, bucket, "lock", if_match="stale")
    assert (info.value.status, info.value.code) == (412, "IfMatchFailed")
    second = client.put_object(ns, bucket, "lock", b"two", if_match=first).headers["etag"]
    assert len({first, second}) == 2 and len(second) == 36
    client.delete_object(ns, bucket, "lock", if_match=second)
    with pytest.raises(oci.exceptions.ServiceError) as info:
        client.delete_object(ns, bucket, "lock", if_match=second)
    assert (info.value.status, info.value.code) == (404, "ObjectNotFound")

    tenancy.fake.ignore_conditions = True
    client.put_object(ns, bucket, "lock", b"one", if_none_match="*")
    client.put_object(ns, bucket, "lock", b"two", if_none_match="*")
    assert client.get_object(ns, bucket, "lock").data.content == b"two"


def test_concurrent_creates_have_exactly_one_winner(tenancy: FakeTenancy, tmp_path: Path) -> None:
    client, ns, bucket = _objects(tenancy, tmp_path)
    winners: list[int] = []
    losers: list[tuple[int, str]] = []

    def create(n: int) -> None:
        try:
            client.put_object(ns, bucket, "lock", str(n).encode(), if_none_match="*")
            winners.append(n)
        except oci.exceptions.ServiceError as exc:
            losers.append((exc.status, exc.code))

    threads = [threading.Thread(target=create, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(winners) == 1 and losers == [(412, "IfNoneMatchFailed")] * 7
    assert client.get_object(ns, bucket, "lock").data.content == str(winners[0]).encode()


def test_uploads_and_objects_page_and_abort(tenancy: FakeTenancy, tmp_path: Path) -> None:
    client, ns, bucket = _objects(tenancy, tmp_path)
    uploads = [_start(client, ns, bucket, f"u{i}") for i in range(3)]
    first = client.list_multipart_uploads(ns, bucket)
    assert len(first.data) == 2 and first.has_next_page
    every = oci.pagination.list_call_get_all_results(client.list_multipart_uploads, ns, bucket)
    assert [u.upload_id for u in every.data] == uploads
    client.abort_multipart_upload(ns, bucket, "u0", uploads[0])
    assert (
        len(
            oci.pagination.list_call_get_all_results(client.list_multipart_uploads, ns, bucket).data
        )
        == 2
    )

    for name in ("c", "a", "b"):
        tenancy.fake.add_object(bucket, name, name.encode() * 3)
    page = client.list_objects(ns, bucket, fields="name,size", limit=2).data
    assert [(o.name, o.size) for o in page.objects] == [("a", 3), ("b", 3)]
    assert page.next_start_with == "c"
    rest = client.list_objects(ns, bucket, fields="name,size", start="c").data
    assert [o.name for o in rest.objects] == ["c"] and rest.next_start_with is None
    with pytest.raises(oci.exceptions.ServiceError) as info:
        client.list_objects(ns, bucket, fields="name,colour")
    assert info.value.status == 400
    client.delete_object(ns, bucket, "a")
    with pytest.raises(oci.exceptions.ServiceError) as info:
        client.head_object(ns, bucket, "a")
    assert info.value.status == 404


def test_post_bodies_must_be_signed_and_match(tenancy: FakeTenancy) -> None:
    creds = tenancy.credentials
    compartment = tenancy.fake.add_compartment()
    tenancy.fake.add_bucket(compartment, "images")
    signer = oci.signer.Signer(creds.tenancy, creds.user, creds.fingerprint, str(creds.key_file))
    url = f"{tenancy.fake.url}/n/freetierfake/b/images/u"
    body = json.dumps({"object": "x"})

    signed = requests.post(url, data=body, auth=signer, timeout=5)
    assert signed.status_code == 200, signed.text
    bare = requests.post(url, data=body, auth=signer.without_content_headers, timeout=5)
    assert bare.status_code == 401 and "must be signed" in bare.json()["message"]
    forged = requests.post(
        url, data=body, auth=signer, headers={"x-content-sha256": "AAAA"}, timeout=5
    )
    assert forged.status_code == 401 and "x-content-sha256" in forged.json()["message"]
    # Part uploads, like OCI, may leave their body out of the signature.
    upload = signed.json()["uploadId"]
    part = requests.put(
        f"{url}/x?uploadId={upload}&uploadPartNum=1",
        data=b"abc",
        auth=signer.without_content_headers,
        timeout=5,
    )
    assert part.status_code == 200, part.text
    wrong_method = requests.put(f"{tenancy.fake.url}/20160918/vcns", auth=signer, timeout=5)
    assert wrong_method.status_code == 405


def test_faults_match_method_and_query_and_the_throttle_paces_bodies(
    tenancy: FakeTenancy, tmp_path: Path
) -> None:
    client, ns, bucket = _objects(tenancy, tmp_path)
    upload = _start(client, ns, bucket, "x")
    fault = tenancy.fake.inject(
        "/n/", 500, "InternalServerError", method="PUT", query={"uploadPartNum": "2"}, times=None
    )
    client.upload_part(ns, bucket, "x", upload, 1, b"fine")
    for _ in range(2):
        with pytest.raises(oci.exceptions.ServiceError) as info:
            client.upload_part(ns, bucket, "x", upload, 2, b"never")
        assert info.value.status == 500
    assert fault.hits == 2
    assert tenancy.fake.part_uploads() == [1, 2, 2]

    tenancy.fake.throttle_bytes_per_second = 4 * 1024 * 1024
    started = time.monotonic()
    client.upload_part(ns, bucket, "x", upload, 3, b"\0" * 1024 * 1024)
    assert time.monotonic() - started >= 0.24


# --- Compute: image import ------------------------------------------------------------------


def _import(tenancy: FakeTenancy, home: Path, data: bytes) -> tuple[Any, str, str]:
    """Store `data` as an object and import it; (ComputeClient, image id, compartment)."""
    compartment = tenancy.fake.add_compartment()
    tenancy.fake.add_bucket(compartment, "images")
    tenancy.fake.add_object("images", "disk.qcow2", data)
    compute = _client(tenancy, oci.core.ComputeClient, home)
    models = oci.core.models
    details = models.CreateImageDetails(
        compartment_id=compartment,
        display_name="disk",
        launch_mode="PARAVIRTUALIZED",
        image_source_details=models.ImageSourceViaObjectStorageTupleDetails(
            namespace_name="freetierfake",
            bucket_name="images",
            object_name="disk.qcow2",
            source_image_type="QCOW2",
            operating_system="Debian",
            operating_system_version="12",
        ),
    )
    image = compute.create_image(details).data
    assert image.lifecycle_state == "IMPORTING"
    return compute, str(image.id), compartment


def test_import_becomes_available_then_takes_shapes_and_firmware(
    tenancy: FakeTenancy, tmp_path: Path
) -> None:
    tenancy.fake.import_polls = 2
    compute, image_id, compartment = _import(tenancy, tmp_path, b"QFI\xfb" + b"\0" * 10)
    with pytest.raises(oci.exceptions.ServiceError) as info:
        compute.add_image_shape_compatibility_entry(image_id, "VM.Standard.A1.Flex")
    assert (info.value.status, info.value.code) == (409, "IncorrectState")
    states = [compute.get_image(image_id).data.lifecycle_state for _ in range(2)]
    assert states == ["IMPORTING", "AVAILABLE"]

    entry = compute.add_image_shape_compatibility_entry(image_id, "VM.Standard.A1.Flex").data
    assert entry.shape == "VM.Standard.A1.Flex"
    with pytest.raises(oci.exceptions.ServiceError) as info:
        compute.add_image_shape_compatibility_entry(image_id, "VM.Nope")
    assert info.value.status == 400

    models = oci.core.models
    [schema] = compute.list_compute_global_image_capability_schemas().data
    details = models.CreateComputeImageCapabilitySchemaDetails(
        compartment_id=compartment,
        image_id=image_id,
        compute_global_image_capability_schema_version_name=schema.current_version_name,
        schema_data={
            "Compute.Firmware": models.EnumStringImageCapabilitySchemaDescriptor(
                source="IMAGE", values=["UEFI_64"], default_value="UEFI_64"
            )
        },
    )
    compute.create_compute_image_capability_schema(details)
    assert compute.get_image(image_id).data.launch_options.firmware == "UEFI_64"
    [listed] = compute.list_compute_image_capability_schemas(
        compartment_id=compartment, image_id=image_id
    ).data
    assert listed.schema_data["Compute.Firmware"].default_value == "UEFI_64"
    bad = models.CreateComputeImageCapabilitySchemaDetails(
        compartment_id=compartment,
        image_id=image_id,
        compute_global_image_capability_schema_version_name=schema.current_version_name,
        schema_data={
            "Compute.Firmware": models.EnumStringImageCapabilitySchemaDescriptor(
                source="IMAGE", values=["COREBOOT"], default_value="COREBOOT"
            )
        },
    )
    with pytest.raises(oci.exceptions.ServiceError) as info:
        compute.create_compute_image_capability_schema(bad)
    assert info.value.status == 400


def test_import_outcomes_and_deletion(tenancy: FakeTenancy, tmp_path: Path) -> None:
    tenancy.fake.import_polls = 1
    compute, not_qcow2, _ = _import(tenancy, tmp_path, b"not an image")
    assert compute.get_image(not_qcow2).data.lifecycle_state == "DISABLED"
    compute.delete_image(not_qcow2)
    with pytest.raises(oci.exceptions.ServiceError) as info:
        compute.get_image(not_qcow2)
    assert info.value.status == 404

    tenancy.fake.import_outcome = None
    compute, stuck, compartment = _import(tenancy, tmp_path, b"QFI\xfb")
    assert {compute.get_image(stuck).data.lifecycle_state for _ in range(5)} == {"IMPORTING"}
    listed = compute.list_images(compartment, display_name="disk").data
    assert [i.id for i in listed] == [stuck]


def test_import_needs_an_existing_object(tenancy: FakeTenancy, tmp_path: Path) -> None:
    compartment = tenancy.fake.add_compartment()
    compute = _client(tenancy, oci.core.ComputeClient, tmp_path)
    models = oci.core.models
    details = models.CreateImageDetails(
        compartment_id=compartment,
        image_source_details=models.ImageSourceViaObjectStorageTupleDetails(
            namespace_name="freetierfake",
            bucket_name="images",
            object_name="missing.qcow2",
            source_image_type="QCOW2",
        ),
    )
    with pytest.raises(oci.exceptions.ServiceError) as info:
        compute.create_image(details)
    assert (info.value.status, info.value.code) == (400, "InvalidParameter")
    assert "does not exist" in info.value.message
