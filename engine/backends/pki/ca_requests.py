"""What the CA paths share: the fields naming a CA and its key, the names they ask for, making the key
(refusing to export one kept in the token), and the private key fields of an `exported` answer."""

from __future__ import annotations

from typing import Any

from engine.backends.pki.ca_keys import HSM, NewKey
from engine.backends.pki.context import Pki, checked_format, private_key_fields
from engine.backends.pki.subject import Names, collect_names
from engine.backends.pki.subject_attributes import SUBJECT_FIELDS
from engine.errors import BadRequest
from engine.framework import Field, FieldData, FieldType

NOT_EXPORTABLE = (
    "key_type hsm keeps the CA key in the PKCS#11 token, where it cannot be exported: "
    "use {path}/internal, or another key_type"
)

NAME_FIELDS = {
    **SUBJECT_FIELDS,
    "common_name": Field(FieldType.STRING),
    "alt_names": Field(FieldType.LIST),
    "ip_sans": Field(FieldType.LIST),
    "exclude_cn_from_sans": Field(FieldType.BOOL),
}
KEY_FIELDS = {
    "key_type": Field(FieldType.STRING, default="rsa"),
    "key_bits": Field(FieldType.INT),
}


def requested_names(data: FieldData) -> Names:
    return collect_names(
        data.get("common_name"), data.get("alt_names"), data.get("ip_sans"), data.get("exclude_cn_from_sans")
    )


async def new_ca_key(pki: Pki, data: FieldData, path: str) -> NewKey:
    """The key a root/generate or intermediate/generate request asks for (`path` names it in errors)."""
    key_type = data.get("key_type")
    if key_type == HSM and data.get("exported") == "exported":
        raise BadRequest(NOT_EXPORTABLE.format(path=path))
    checked_format(data.get("format"), data.get("private_key_format"))
    return await pki.keys.create(key_type, data.get("key_bits"))


def exported_fields(new: NewKey, data: FieldData) -> dict[str, Any]:
    """private_key and private_key_type for an `exported` request; nothing for `internal`."""
    if data.get("exported") != "exported" or new.pair is None:
        return {}
    return private_key_fields(new.pair, data.get("format"), data.get("private_key_format"))
