#!/usr/bin/env python3
"""An app operator's OpenTelemetry setup that sends Fingertip one check-in event.

Fingertip's ingest listener speaks OTLP/HTTP logs at /v1/logs: point the OTLP log exporter
at it with your app token, and put the event's fields in `fingertip.*` attributes.

    pip install opentelemetry-sdk opentelemetry-exporter-otlp-proto-http
    FINGERTIP_URL=http://127.0.0.1:4180 FINGERTIP_TOKEN=ft_... python3 examples/otel_app.py

Prints the event id it sent. (tests/tests/ingest/otlp.rs runs this file against a real
server and finds the event in the lake, so it stays true.)
"""

import os
import time
import uuid

from opentelemetry.exporter.otlp.proto.http import Compression
from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import BatchLogRecordProcessor

url = os.environ.get("FINGERTIP_URL", "http://127.0.0.1:4180")
token = os.environ["FINGERTIP_TOKEN"]

# Once, at start-up: a provider whose batch processor exports to Fingertip.
provider = LoggerProvider()
provider.add_log_record_processor(
    BatchLogRecordProcessor(
        OTLPLogExporter(
            endpoint=f"{url}/v1/logs",
            headers={"authorization": f"Bearer {token}"},
            compression=Compression.Gzip,
        )
    )
)
logger = provider.get_logger("attendance.checkin")

# Wherever a worker completes a mandatory check-in. The timestamp is when it started;
# person_ref is your own staff number (Fingertip stores only a keyed pseudonym of it).
event_id = str(uuid.uuid4())
logger.emit(
    timestamp=time.time_ns() - 45 * 1_000_000_000,
    body="check-in completed",  # dropped by Fingertip, like any attribute below not named fingertip.*
    attributes={
        "fingertip.event_id": event_id,
        "fingertip.person_ref": "EMP-00042",
        "fingertip.org_unit": "county-01.town-07",
        "fingertip.event_type": "check_in",
        "fingertip.trigger": "mandatory",
        "fingertip.duration_s": 45,
        "fingertip.data_elements": ["location.gps", "photo.selfie"],
    },
)

# At shutdown: send what is still queued.
provider.shutdown()
print(event_id)
