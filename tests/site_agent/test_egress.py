"""The egress gate: recipe and personal data never leave; only the gate makes payloads."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
import respx

from site_agent import egress, messages
from site_agent.client import HubClient
from site_agent.egress import EgressRefused, GatedPayload, gate
from standards import registry

CANARY = "CANARY-RECIPE-7f3a"


def canary_batch() -> dict[str, Any]:
    """A valid batch record whose recipe, operator and confidential values are canaries."""
    record = registry.get("batch-record", "1.0.0").examples()[0]
    record["formulation"]["ingredients"][0]["name"] = CANARY
    record["formulation"]["ingredients"][0]["material_code"] = "CANARY-MAT-7f3a"
    record["phases"][0]["operators"] = [{"person_id": "CANARY-OP-7f3a",
                                         "name": "CANARY-OPERATOR-7f3a"}]
    record["master_recipe"]["recipe_id"] = "CANARY-MR-7f3a"
    record["notes"] = "CANARY-NOTE-7f3a"
    return record


def without_restricted(record: dict[str, Any]) -> dict[str, Any]:
    out = json.loads(json.dumps(record))
    out.pop("formulation", None)
    out.pop("released_by", None)
    for phase in out["phases"]:
        phase.pop("operators", None)
    return out


def test_recipe_and_pii_are_refused_naming_fields_not_values() -> None:
    record = canary_batch()
    assert registry.get("batch-record", "1.0.0").validate(record).ok
    with pytest.raises(EgressRefused) as info:
        gate("batch-record/1.0.0", record)
    assert "/formulation" in info.value.pointers
    assert "/phases/0/operators" in info.value.pointers
    assert "/released_by" in info.value.pointers
    assert "CANARY" not in str(info.value)


def test_confidential_fields_are_projected_away() -> None:
    record = without_restricted(canary_batch())
    sent = json.loads(gate("batch-record/1.0.0", record).body)
    assert "master_recipe" not in sent and "notes" not in sent
    assert sent["batch_id"] == record["batch_id"] and "7f3a" not in json.dumps(sent)


def test_payloads_must_conform_and_unknown_data_cannot_leave() -> None:
    reading = registry.get("sensor-reading", "1.0.0").examples()[0]
    reading["measurements"]["vibration"]["unit"] = "furlongs"
    with pytest.raises(EgressRefused) as info:
        gate("sensor-reading/1.0.0", reading)
    assert info.value.pointers == ["/measurements/vibration/unit"]
    with pytest.raises(EgressRefused):
        gate("no-such-standard/1.0.0", {"anything": 1})
    extra = registry.get("sensor-reading", "1.0.0").examples()[0]
    extra["operator"] = CANARY
    with pytest.raises(EgressRefused):
        gate("sensor-reading/1.0.0", extra)


def test_batches_name_the_offending_record() -> None:
    good = registry.get("batch-record", "1.0.0").examples()[0]
    with pytest.raises(EgressRefused) as info:
        gate("batch-record/1.0.0", [without_restricted(good), good])
    assert info.value.pointers and all(p.startswith("/1/") for p in info.value.pointers)


def test_only_the_gate_makes_gated_payloads() -> None:
    with pytest.raises(TypeError):
        GatedPayload(object(), "x/1.0.0", b"{}", 1)
    real = gate(messages.HEARTBEAT, {"agent_version": "0.1.0"})
    with pytest.raises(AttributeError):
        real.body = b'{"secret": 1}'
    forged = object.__new__(GatedPayload)
    for name, value in (("schema_id", real.schema_id), ("body", b'{"x": "' + CANARY.encode()
                                                         + b'"}'), ("count", 1), ("mac", real.mac)):
        object.__setattr__(forged, name, value)
    with pytest.raises(EgressRefused):
        egress.verify(forged)


@respx.mock(assert_all_mocked=True)
def test_the_client_sends_only_gated_payloads(respx_mock: respx.MockRouter) -> None:
    route = respx_mock.post("http://hub.test/sites/me/heartbeat").mock(
        return_value=httpx.Response(200, json={}))
    with HubClient("http://hub.test", api_key="fhk_a_b") as client:
        with pytest.raises(TypeError):
            client.post("/sites/me/heartbeat", {"agent_version": "1"})  # type: ignore[arg-type]
        with pytest.raises(TypeError):
            client.post("/sites/me/heartbeat", b'{"agent_version": "1"}')  # type: ignore[arg-type]
        assert not route.called
        client.post("/sites/me/heartbeat", gate(messages.HEARTBEAT, {"agent_version": "1"}))
    assert route.call_count == 1
    assert route.calls[0].request.headers["x-fedhub-schema"] == "site-heartbeat/1.0.0"
