#!/usr/bin/env python3
"""Emits log records through the real OpenTelemetry Python SDK to an OTLP/HTTP endpoint, the
way an app operator's code does, for tests/tests/ingest/otlp.rs.

    python3 tests/python/otel_emit.py ENDPOINT TOKEN RECORDS.json [--gzip] [--batch N]

RECORDS.json is a list of {"time_unix_nano": int, "attributes": {...}}. Each record is emitted
with a body, a severity and an extra attribute (all of which Fingertip must drop) through a
LoggerProvider with a BatchLogRecordProcessor and an OTLPLogExporter (protobuf over HTTP) that
sends `authorization: Bearer TOKEN`. The exporter is the SDK's own; its export results are
recorded (not replaced) and printed as JSON: {"exports": ["SUCCESS", ...], "records": n}.
Exit code 2 when the SDK is not installed.
"""

import json
import sys

try:
    from opentelemetry._logs import SeverityNumber
    from opentelemetry.exporter.otlp.proto.http import Compression
    from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
    from opentelemetry.sdk._logs import LoggerProvider
    from opentelemetry.sdk._logs.export import BatchLogRecordProcessor
    from opentelemetry.sdk.resources import Resource
except ImportError as error:
    sys.stderr.write(f"{error}: run `pip install opentelemetry-sdk opentelemetry-exporter-otlp-proto-http`\n")
    sys.exit(2)

DROPPED = "DROPPED-TEXT-QX81"


class RecordingExporter(OTLPLogExporter):
    """The SDK's exporter, remembering what each export returned."""

    results = []

    def export(self, batch):
        result = super().export(batch)
        self.results.append((len(batch), result.name))
        return result


def main():
    args = sys.argv[1:]
    if len(args) < 3:
        sys.stderr.write(__doc__)
        sys.exit(64)
    endpoint, token, path = args[:3]
    gzip = "--gzip" in args
    batch = int(args[args.index("--batch") + 1]) if "--batch" in args else 512
    with open(path) as f:
        records = json.load(f)

    exporter = RecordingExporter(
        endpoint=endpoint,
        headers={"authorization": f"Bearer {token}"},
        compression=Compression.Gzip if gzip else Compression.NoCompression,
        timeout=30,
    )
    provider = LoggerProvider(resource=Resource.create({"service.name": "attendance", "host.name": DROPPED}))
    provider.add_log_record_processor(BatchLogRecordProcessor(exporter, max_export_batch_size=batch))
    logger = provider.get_logger("attendance.checkin")
    for r in records:
        attributes = dict(r["attributes"], **{"user.note": DROPPED})
        logger.emit(
            timestamp=r["time_unix_nano"],
            severity_number=SeverityNumber.INFO,
            severity_text="INFO",
            body=DROPPED,
            attributes=attributes,
        )
    provider.force_flush()
    provider.shutdown()
    exports = RecordingExporter.results
    json.dump({"exports": [name for _, name in exports], "records": sum(n for n, _ in exports)}, sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
