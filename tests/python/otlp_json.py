#!/usr/bin/env python3
"""Prints the OTLP/JSON of log records as protobuf's own JSON printer writes it
(`google.protobuf.json_format`, on the `opentelemetry-proto` Python messages): lowerCamelCase
names, 64-bit integers as strings, fields holding default values omitted (an empty list is
`{"arrayValue": {}}`). For tests/tests/ingest/otlp.rs.

    python3 tests/python/otlp_json.py RECORDS.json

RECORDS.json as for otel_emit.py. Exit code 2 when the packages are not installed.
"""

import json
import sys

try:
    from google.protobuf import json_format
    from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
    from opentelemetry.proto.common.v1.common_pb2 import AnyValue
except ImportError as error:
    sys.stderr.write(f"{error}: run `pip install opentelemetry-exporter-otlp-proto-http`\n")
    sys.exit(2)


def any_value(v):
    if isinstance(v, str):
        return AnyValue(string_value=v)
    if isinstance(v, bool):
        return AnyValue(bool_value=v)
    if isinstance(v, int):
        return AnyValue(int_value=v)
    if isinstance(v, float):
        return AnyValue(double_value=v)
    out = AnyValue()
    out.array_value.SetInParent()
    out.array_value.values.extend(any_value(x) for x in v)
    return out


def main():
    with open(sys.argv[1]) as f:
        records = json.load(f)
    request = ExportLogsServiceRequest()
    scope = request.resource_logs.add().scope_logs.add()
    for r in records:
        record = scope.log_records.add(time_unix_nano=r["time_unix_nano"])
        record.body.string_value = "DROPPED-TEXT-QX81"
        for key, value in r["attributes"].items():
            record.attributes.add(key=key, value=any_value(value))
    print(json_format.MessageToJson(request, indent=None))


if __name__ == "__main__":
    main()
