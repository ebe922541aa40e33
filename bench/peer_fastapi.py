"""The Python ingest peer of docs/benchmarks.md: FastAPI + uvicorn + pydantic, NOT durable.

POST /v1/events takes the same body as Fingertip ({"events": [...]}), validates every event
with a pydantic model (types, UUID, RFC 3339 time, enums, lengths), counts them in memory and
answers 202 {"accepted": n, "duplicates": 0, "rejected": []}. Nothing is written or fsynced:
this is the ceiling of a typical Python service, not a like-for-like durable one.

Run: taskset -c 0 python3 bench/peer_fastapi.py --port 4190
"""

import argparse
import uuid
from datetime import datetime
from typing import Literal, Optional

import uvicorn
from fastapi import FastAPI
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field


class Event(BaseModel):
    model_config = ConfigDict(extra="forbid")
    event_id: uuid.UUID
    person_ref: str = Field(min_length=1, max_length=256)
    app_id: Optional[str] = None
    org_unit: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._-]+$")
    event_type: Literal[
        "check_in", "form_submit", "proof_upload", "login",
        "study_session", "group_demand", "ranking_published", "session",
    ]
    trigger: Literal["mandatory", "reminder", "voluntary", "unknown"] = "unknown"
    started_at: datetime
    duration_s: float = Field(ge=0)
    data_elements: list[str] = Field(default_factory=list, max_length=64)


class Batch(BaseModel):
    model_config = ConfigDict(extra="forbid")
    events: list[Event] = Field(max_length=10_000)


app = FastAPI()
accepted_total = 0


@app.post("/v1/events", status_code=202)
async def post_events(batch: Batch):
    global accepted_total
    n = len(batch.events)
    accepted_total += n
    return JSONResponse({"accepted": n, "duplicates": 0, "rejected": []}, status_code=202)


@app.get("/healthz")
async def healthz():
    return {"status": "ok", "accepted_total": accepted_total}


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=4190)
    args = parser.parse_args()
    uvicorn.run(app, host="127.0.0.1", port=args.port, log_level="warning", access_log=False,
                loop="uvloop", http="httptools", backlog=4096)
