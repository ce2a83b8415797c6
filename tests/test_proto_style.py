"""The proto style (issue 14 item 8), kept by `make lint` (infra/lint_proto.py) and by this test:

- the protos pass the lint, and the lint refuses each thing it is there to refuse (a string status, an enum
  whose zero is not `<ENUM>_UNSPECIFIED`, a value without the enum's prefix, an unversioned package);
- every status enum of a service's API has a table in that service's translate.py mapping each of its
  domain statuses to the proto value whose REST token (gateway/rest.py) is that status's own word — so the
  REST API speaks the domain's words and a domain status without a proto value fails here;
- events carry no status enum: their JSON wire format (read by other services and nameko subscribers)
  stays as it was; a status an event needs is added as a new, versioned field.
"""

from __future__ import annotations

import enum
import importlib
import importlib.util

import pytest
from google.protobuf import descriptor_pb2 as d

from gateway.rest import is_status_enum, status_tokens
from infra import lint_proto
from shared import registry

F = d.FieldDescriptorProto


def test_the_protos_follow_the_style():
    assert lint_proto.problems(lint_proto.descriptors()) == []
    assert lint_proto.main() == 0


def _file(name="sanji/demo/v1/demo.proto", package="sanji.demo.v1") -> d.FileDescriptorProto:
    f = d.FileDescriptorProto(name=name, package=package, syntax="proto3")
    e = f.enum_type.add(name="ThingStatus")
    e.value.add(name="THING_STATUS_UNSPECIFIED", number=0)
    e.value.add(name="THING_STATUS_OPEN", number=1)
    m = f.message_type.add(name="Thing")
    m.field.add(name="status", number=1, type=F.TYPE_ENUM, type_name=".sanji.demo.v1.ThingStatus")
    m.field.add(name="status_label", number=2, type=F.TYPE_STRING)
    return f


def test_a_well_formed_file_passes():
    assert lint_proto.problems([_file()]) == []


def test_the_lint_refuses_a_status_held_as_a_string():
    f = _file()
    f.message_type[0].field.add(name="payment_status", number=3, type=F.TYPE_STRING)
    nested = f.message_type[0].nested_type.add(name="Inner")
    nested.field.add(name="status", number=1, type=F.TYPE_STRING)
    assert lint_proto.problems([f]) == [
        "sanji/demo/v1/demo.proto: field Thing.payment_status holds a status but is not an enum",
        "sanji/demo/v1/demo.proto: field Thing.Inner.status holds a status but is not an enum"]


def test_the_lint_refuses_an_enum_without_its_unspecified_zero_or_prefix():
    f = _file()
    f.enum_type[0].value[0].name = "THING_STATUS_NONE"
    f.enum_type[0].value.add(name="CLOSED", number=2)
    inner = f.message_type[0].enum_type.add(name="Colour")
    inner.value.add(name="COLOUR_RED", number=0)
    found = lint_proto.problems([f])
    assert "sanji/demo/v1/demo.proto: enum ThingStatus: the zero value must be THING_STATUS_UNSPECIFIED" in found
    assert "sanji/demo/v1/demo.proto: enum ThingStatus: value CLOSED lacks the prefix THING_STATUS_" in found
    assert "sanji/demo/v1/demo.proto: enum Thing.Colour: the zero value must be COLOUR_UNSPECIFIED" in found
    assert len(found) == 3


@pytest.mark.parametrize("name, package, problem", [
    ("sanji/demo/demo.proto", "sanji.demo", "is not sanji.<service>.v<N>"),
    ("sanji/demo/v1/demo.proto", "demo.v1", "is not sanji.<service>.v<N>"),
    ("sanji/other/v1/demo.proto", "sanji.demo.v1", "lives outside sanji/demo/v1/"),
    ("sanji/demo/v2/demo.proto", "sanji.demo.v1", "lives outside sanji/demo/v1/"),
])
def test_the_lint_refuses_an_unversioned_or_misplaced_package(name, package, problem):
    found = lint_proto.problems([_file(name, package)])
    assert len(found) == 1 and problem in found[0]


# -- translate tables ----------------------------------------------------------------------------------
def _tables(module) -> list[tuple[str, dict]]:
    """Module-level dicts of translate.py mapping domain statuses (StrEnum members or their words) to numbers."""
    return [(name, value) for name, value in vars(module).items()
            if isinstance(value, dict) and value and all(isinstance(k, str) for k in value)
            and all(isinstance(v, int) and not isinstance(v, bool) for v in value.values())]


@pytest.mark.parametrize("service", registry.NAMES)
def test_every_status_enum_has_a_translate_table_from_the_domain_words(service):
    pb = importlib.import_module(f"sanji.{service}.v1.{service}_pb2")
    translate = importlib.import_module(f"{registry.spec(service).module}.translate")
    enums = [e for e in pb.DESCRIPTOR.enum_types_by_name.values() if is_status_enum(e)]
    nested = [e for m in pb.DESCRIPTOR.message_types_by_name.values() for e in m.enum_types if is_status_enum(e)]
    assert not nested, "a status enum belongs at the package's top level, where the translate tables find it"
    covered = set()
    for name, table in _tables(translate):
        for e in enums:
            tokens = {t: n for n, t in status_tokens(e).items() if n}
            if {str(k) for k in table} != set(tokens):
                continue
            # the table of this enum: each domain status goes to the value REST writes as the same word
            assert {str(k): v for k, v in table.items()} == tokens, f"{service}.translate.{name} ↔ {e.name}"
            classes = {type(k) for k in table if isinstance(k, enum.Enum)}
            for cls in classes:       # every status of the domain's StrEnum is in it
                assert {str(m) for m in cls} == set(tokens), f"{cls.__name__} ↔ {e.name}"
            covered.add(e.name)
    assert covered == {e.name for e in enums}, f"status enums of {service} without a translate table"


# the services that publish events (the registry's `publishes`); one that publishes none (onboarding) has no
# events proto to look into
PUBLISHERS = [s.name for s in registry.SERVICES if s.publishes]


def test_every_publisher_has_its_events_proto():
    assert PUBLISHERS and all(importlib.util.find_spec(f"sanji.{n}.v1.events_pb2") for n in PUBLISHERS)


@pytest.mark.parametrize("service", PUBLISHERS)
def test_events_carry_no_status_enum_so_their_json_stays_as_it_was(service):
    events = importlib.import_module(f"sanji.{service}.v1.events_pb2")
    for message in events.DESCRIPTOR.message_types_by_name.values():
        for field in message.fields:
            assert field.enum_type is None or not is_status_enum(field.enum_type), f"{message.name}.{field.name}"
