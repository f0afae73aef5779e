"""Check a job dict against the Batch ``Job`` proto descriptors, field by field, with paths.

``json_format`` stops at the first problem with a message about protobuf internals; this walk
reports every type problem with the field path a user wrote, and returns the same tree keyed by
proto field names (snake_case) for the streaming rules.
"""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Mapping
from typing import Any

from google.protobuf.descriptor import Descriptor, FieldDescriptor

from airflow_batchstream.arguments import shown
from airflow_batchstream.validation.violations import Violation

#: Values never echoed in a message: anything under these fields (environment variables, secrets, passwords).
SECRET_PATH = re.compile(r"(^|\.)(environments?|secret_variables|encrypted_variables|password)(\.|\[|$)")
_DURATION = re.compile(r"-?\d+(\.\d{1,9})?s")
_INT_TEXT = re.compile(r"-?\d+")
_INT_TYPES = {
    FieldDescriptor.CPPTYPE_INT32,
    FieldDescriptor.CPPTYPE_INT64,
    FieldDescriptor.CPPTYPE_UINT32,
    FieldDescriptor.CPPTYPE_UINT64,
}
_FLOAT_TYPES = {FieldDescriptor.CPPTYPE_FLOAT, FieldDescriptor.CPPTYPE_DOUBLE}


def join(path: str, name: str) -> str:
    """
    Return ``path.name`` (or ``name`` at the root).

    :param path: the parent's path.
    :param name: the child field's name.
    """
    return f"{path}.{name}" if path else name


def _show(value: Any, path: str) -> str:
    return shown(value, secret=bool(SECRET_PATH.search(path)))


def is_repeated(field: FieldDescriptor) -> bool:
    """
    Return whether a message field is repeated, on every protobuf release our dependencies allow.

    Newer protobuf releases say so directly (``is_repeated``); older ones, such as the 4.x of the
    lowest tested environment, only through the field's label.

    :param field: the field's descriptor.
    """
    if hasattr(field, "is_repeated"):
        return bool(field.is_repeated)
    old: Any = field  # newer protobuf type stubs no longer declare ``label``
    return bool(old.label == old.LABEL_REPEATED)


class StructureWalk:
    """
    One walk over a job dict: collects violations, returns the normalised tree.

    :param other_descriptor: the same message in the other API version, to say when a field
        exists only there.
    """

    def __init__(self, other_descriptor: Descriptor | None = None) -> None:
        self.violations: list[Violation] = []
        self.other_descriptor = other_descriptor

    def _error(self, path: str, message: str, hint: str = "") -> None:
        self.violations.append(Violation(path, "parse-error", message, hint))

    def message(self, value: Any, descriptor: Descriptor, path: str) -> dict[str, Any]:
        """
        Check an object against a message descriptor; return it keyed by proto field names.

        :param value: what the user wrote.
        :param descriptor: the message it should be.
        :param path: where it is.
        """
        if not isinstance(value, Mapping):
            self._error(path, f"expected an object ({descriptor.name} message), got {_show(value, path)}")
            return {}
        by_name = {field.name: field for field in descriptor.fields}
        by_name.update({field.json_name: field for field in descriptor.fields})
        out: dict[str, Any] = {}
        oneofs: dict[str, str] = {}
        for key, item in value.items():
            field = by_name.get(key) if isinstance(key, str) else None
            if field is None:
                self._unknown(str(key), descriptor, path, by_name)
                continue
            here = join(path, field.name)
            if field.name in out:
                self._error(here, f"given twice (as {field.name!r} and {field.json_name!r})")
                continue
            if item is None:
                continue
            group = field.containing_oneof
            if group is not None and not group.name.startswith("_"):
                if group.name in oneofs:
                    self._error(
                        here,
                        f"only one of {', '.join(f.name for f in group.fields)} may be set; "
                        f"{oneofs[group.name]} is set too",
                    )
                    continue
                oneofs[group.name] = field.name
            out[field.name] = self.field(item, field, here)
        return out

    def _unknown(self, key: str, descriptor: Descriptor, path: str, by_name: Mapping[str, Any]) -> None:
        here = join(path, key)
        close = difflib.get_close_matches(key, list(by_name), n=1, cutoff=0.6)
        hint = (
            f"did you mean {close[0]!r}?"
            if close
            else f"fields of {descriptor.name}: " + ", ".join(f.name for f in descriptor.fields)
        )
        message = f"no field {key!r} in the Batch {descriptor.name} message"
        other = self._other(descriptor)
        if other is not None and any(key in (f.name, f.json_name) for f in other.fields):
            message += " of this API version (it exists in the other one: check api_version)"
        self.violations.append(Violation(here, "unknown-field", message, hint))

    def _other(self, descriptor: Descriptor) -> Descriptor | None:
        if self.other_descriptor is None:
            return None
        suffix = descriptor.full_name.split(".", 4)[-1]
        pool = self.other_descriptor.file.pool
        package = self.other_descriptor.full_name.rsplit(".", 1)[0]
        try:
            return pool.FindMessageTypeByName(f"{package}.{suffix}")
        except KeyError:
            return None

    def field(self, value: Any, field: FieldDescriptor, path: str) -> Any:
        """
        Check one field's value (repeated, map or single); return it normalised.

        :param value: what the user wrote.
        :param field: the field's descriptor.
        :param path: where it is.
        """
        if field.message_type is not None and field.message_type.GetOptions().map_entry:
            return self._map(value, field, path)
        if is_repeated(field):
            if not isinstance(value, (list, tuple)):
                example = "[...]" if SECRET_PATH.search(path) else json.dumps([value], default=str)
                self._error(
                    path,
                    f"expected a list, got {_show(value, path)}",
                    f"write it as a list, e.g. {example[:80]}",
                )
                return [value] if isinstance(value, str) else []
            return [self.single(item, field, f"{path}[{index}]") for index, item in enumerate(value)]
        return self.single(value, field, path)

    def _map(self, value: Any, field: FieldDescriptor, path: str) -> dict[str, Any]:
        if not isinstance(value, Mapping):
            self._error(path, f"expected an object of key: value pairs, got {_show(value, path)}")
            return {}
        value_field = field.message_type.fields_by_name["value"]  # type: ignore[union-attr]
        return {
            str(key): self.single(item, value_field, f"{path}[{json.dumps(str(key))}]")
            for key, item in value.items()
        }

    def single(self, value: Any, field: FieldDescriptor, path: str) -> Any:
        """
        Check one non-repeated value against its field type; return it normalised.

        :param value: what the user wrote.
        :param field: the field's descriptor.
        :param path: where it is.
        """
        if field.message_type is not None:
            name = field.message_type.full_name
            if name == "google.protobuf.Duration":
                if not (isinstance(value, str) and _DURATION.fullmatch(value)):
                    self._error(path, f'expected a duration such as "3600s", got {_show(value, path)}')
                return value
            if name.startswith("google.protobuf."):
                return value
            if isinstance(value, (list, tuple)):
                self._error(
                    path,
                    f"expected one object ({field.message_type.name} message), got a list",
                    "remove the list around it",
                )
                return {}
            return self.message(value, field.message_type, path)
        if field.enum_type is not None:
            names = [v.name for v in field.enum_type.values]
            if isinstance(value, bool) or not (
                (isinstance(value, str) and value in names) or isinstance(value, int)
            ):
                self._error(path, f"expected one of {', '.join(names)}, got {_show(value, path)}")
            return value
        return self._scalar(value, field, path)

    def _scalar(self, value: Any, field: FieldDescriptor, path: str) -> Any:
        cpp = field.cpp_type
        if cpp == FieldDescriptor.CPPTYPE_STRING:
            if not isinstance(value, str):
                self._error(path, f"expected a string, got {_show(value, path)}")
            return value
        if cpp == FieldDescriptor.CPPTYPE_BOOL:
            if not isinstance(value, bool):
                self._error(path, f"expected true or false, got {_show(value, path)}")
            return value
        if cpp in _INT_TYPES:
            if isinstance(value, str) and _INT_TEXT.fullmatch(value.strip()):
                return int(value)
            if isinstance(value, float) and value.is_integer():
                return int(value)
            if isinstance(value, bool) or not isinstance(value, int):
                self._error(path, f"expected an integer, got {_show(value, path)}")
            return value
        if cpp in _FLOAT_TYPES and (isinstance(value, bool) or not isinstance(value, (int, float))):
            self._error(path, f"expected a number, got {_show(value, path)}")
        return value
