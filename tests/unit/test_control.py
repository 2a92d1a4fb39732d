"""Control-topic messages: an erase request is read, anything else is refused with the reason."""

from __future__ import annotations

import json

from jobs.flink.control import erase_request, parse_control


def test_erase_request_round_trip():
    request = erase_request("cust-17")
    parsed, error = parse_control(json.dumps(request))
    assert error == "" and parsed == {"key": "cust-17", "id": request["id"]}


def test_bad_control_messages_have_reasons():
    assert parse_control("{nope")[1].startswith("control message is not JSON")
    assert parse_control("[1]")[1] == "control message must be a JSON object"
    assert parse_control('{"type": "pause"}')[1] == "unknown control message type 'pause' (known: 'erase', 'param')"
    assert parse_control('{"type": "param", "scenario": "s", "name": "x", "value": 1}') == (None, "")
    assert parse_control('{"type": "erase", "key": 17}')[1] == "erase request without a 'key' (text)"
    assert parse_control('{"type": "erase", "key": ""}')[0] is None
