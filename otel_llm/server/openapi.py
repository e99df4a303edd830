"""The OpenAPI 3.1 description of the HTTP server, served at `GET /openapi.json`.

Hand-written: short, and it documents exactly the routes `create_app` mounts (a test
checks that both lists agree).
"""

from __future__ import annotations

from typing import Any

_ERROR = {"$ref": "#/components/schemas/Error"}
_STATUS = {"$ref": "#/components/schemas/Status"}


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _otlp(description: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {
        "description": description,
        "content": {
            "application/x-protobuf": {"schema": {"type": "string", "format": "binary"}},
            "application/json": {"schema": schema},
        },
    }


_EXPORT = {
    "summary": "OTLP/HTTP trace export",
    "description": (
        "An ExportTraceServiceRequest, protobuf or OTLP/JSON, optionally gzip or deflate "
        "encoded. Answered only after the spans are committed. The project is the "
        "Langsmith-Project header, else the resource attribute langsmith.project or "
        "openinference.project.name, else service.name, else 'default'."
    ),
    "parameters": [
        {"name": "Langsmith-Project", "in": "header", "schema": {"type": "string"}},
        {
            "name": "Content-Encoding",
            "in": "header",
            "schema": {"type": "string", "enum": ["gzip", "deflate", "identity"]},
        },
    ],
    "requestBody": {
        "required": True,
        "content": {
            "application/x-protobuf": {"schema": {"type": "string", "format": "binary"}},
            "application/json": {"schema": {"type": "object"}},
        },
    },
    "responses": {
        "200": _otlp(
            "Stored; partialSuccess lists spans that were rejected.",
            {"$ref": "#/components/schemas/ExportTraceServiceResponse"},
        ),
        "400": _otlp("Malformed body (not OTLP, bad gzip).", _STATUS),
        "401": _otlp("Missing or wrong API key.", _STATUS),
        "413": _otlp("Body too large, on the wire or after decompression.", _STATUS),
        "415": _otlp("Content-Type or Content-Encoding not supported.", _STATUS),
        "503": {
            **_otlp("Busy: retry after the Retry-After header's seconds.", _STATUS),
            "headers": {"Retry-After": {"schema": {"type": "integer"}}},
        },
    },
}
_EXPORT_LOGS = {
    **_EXPORT,
    "summary": "OTLP/HTTP logs export",
    "description": (
        "An ExportLogsServiceRequest, protobuf or OTLP/JSON, optionally gzip or deflate "
        "encoded. Answered only after the records are committed. GenAI event records join "
        "the run of their span (in any arrival order); the others are kept as unjoined."
    ),
}

_RUN_QUERY_BODY = {
    "type": "object",
    "properties": {
        "session": {"type": "array", "items": {"type": "string", "format": "uuid"}},
        "run_type": {"type": "string"},
        "is_root": {"type": "boolean"},
        "trace": {"type": "string", "format": "uuid"},
        "parent_run": {"type": "string", "format": "uuid"},
        "start_time": {"type": "string", "format": "date-time"},
        "error": {"type": "boolean"},
        "id": {"type": "array", "items": {"type": "string", "format": "uuid"}},
        "reference_example": {"type": "array", "items": {"type": "string", "format": "uuid"}},
        "query": {"type": "string"},
        "filter": {
            "type": "string",
            "description": 'e.g. and(eq(run_type, "llm"), gt(latency, "5s"))',
        },
        "trace_filter": {"type": "string"},
        "tree_filter": {"type": "string"},
        "select": {"type": "array", "items": {"type": "string"}},
        "limit": {"type": "integer", "minimum": 1, "maximum": 1000},
        "cursor": {"type": "string"},
        "order": {"type": "string", "enum": ["asc", "desc"]},
    },
}

_UUID_PATH = {"in": "path", "required": True, "schema": {"type": "string", "format": "uuid"}}

_STATS_BODY = {
    "type": "object",
    "description": (
        "The body of /runs/query (its page fields ignored) plus end_time, the latest "
        "start time counted."
    ),
    "properties": {
        **{
            k: v
            for k, v in _RUN_QUERY_BODY["properties"].items()  # type: ignore[attr-defined]
            if k not in ("select", "limit", "cursor", "order")
        },
        "end_time": {"type": "string", "format": "date-time"},
    },
}

_RUN_STATS = {
    "type": "object",
    "properties": {
        "run_count": {"type": "integer"},
        "error_rate": {"type": ["number", "null"]},
        "streaming_rate": {"type": ["number", "null"]},
        "latency_p50": {"type": ["number", "null"], "description": "seconds"},
        "latency_p99": {"type": ["number", "null"], "description": "seconds"},
        "first_token_p50": {"type": ["number", "null"], "description": "seconds"},
        "first_token_p99": {"type": ["number", "null"], "description": "seconds"},
        "prompt_tokens": {"type": "integer"},
        "completion_tokens": {"type": "integer"},
        "total_tokens": {"type": "integer"},
        "median_tokens": {"type": ["integer", "null"]},
        "prompt_cost": {"type": "number"},
        "completion_cost": {"type": "number"},
        "total_cost": {"type": "number"},
        "last_run_start_time": {"type": ["string", "null"], "format": "date-time"},
    },
}

_V2_SELECTS = {
    "type": "array",
    "items": {"type": "string", "description": "a RunSelectField name, e.g. NAME, INPUTS"},
}

_V2_QUERY_BODY = {
    "type": "object",
    "required": ["project_ids"],
    "properties": {
        "project_ids": {"type": "array", "items": {"type": "string", "format": "uuid"}},
        "min_start_time": {
            "type": "string",
            "format": "date-time",
            "description": "default: one day ago",
        },
        "max_start_time": {"type": "string", "format": "date-time", "description": "default: now"},
        "filter": {"type": "string"},
        "trace_filter": {"type": "string"},
        "tree_filter": {"type": "string"},
        "has_error": {"type": "boolean"},
        "ids": {"type": "array", "items": {"type": "string", "format": "uuid"}},
        "is_root": {"type": "boolean"},
        "run_type": {
            "type": "string",
            "enum": ["TOOL", "CHAIN", "LLM", "RETRIEVER", "EMBEDDING", "PROMPT", "PARSER"],
        },
        "trace_id": {"type": "string", "format": "uuid"},
        "reference_examples": {"type": "array", "items": {"type": "string", "format": "uuid"}},
        "include_subtree_usage": {"type": "boolean"},
        "selects": _V2_SELECTS,
        "page_size": {"type": "integer", "minimum": 1, "maximum": 1000},
        "cursor": {"type": "string"},
    },
}

OPENAPI: dict[str, Any] = {
    "openapi": "3.1.0",
    "info": {
        "title": "otel-llm",
        "description": (
            "OTLP receiver that stores LLM spans as runs, and the read API of LangSmith's "
            "client over them."
        ),
        "version": "1",
    },
    "components": {
        "securitySchemes": {
            "apiKey": {"type": "apiKey", "in": "header", "name": "x-api-key"},
            "bearer": {"type": "http", "scheme": "bearer"},
        },
        "schemas": {
            "Error": {"type": "object", "properties": {"detail": {"type": "string"}}},
            "Status": {
                "type": "object",
                "description": "google.rpc.Status",
                "properties": {
                    "code": {"type": "integer"},
                    "message": {"type": "string"},
                    "details": {"type": "array", "items": {"type": "object"}},
                },
            },
            "ExportTraceServiceResponse": {
                "type": "object",
                "properties": {
                    "partialSuccess": {
                        "type": "object",
                        "properties": {
                            "rejectedSpans": {"type": "string"},
                            "errorMessage": {"type": "string"},
                        },
                    }
                },
            },
            "Run": {"type": "object", "description": "A run in LangSmith's read shape."},
            "RunV2": {
                "type": "object",
                "description": (
                    "A run in LangSmith's v2 shape: only the selected fields (id always)."
                ),
            },
            "Project": {
                "type": "object",
                "description": "A project (LangSmith's TracerSessionResult).",
            },
        },
    },
    "security": [{"apiKey": []}, {"bearer": []}],
    "paths": {
        "/v1/traces": {"post": {**_EXPORT, "operationId": "exportTraces"}},
        "/otel/v1/traces": {"post": {**_EXPORT, "operationId": "exportTracesLangSmithPath"}},
        "/v1/logs": {"post": {**_EXPORT_LOGS, "operationId": "exportLogs"}},
        "/otel/v1/logs": {"post": {**_EXPORT_LOGS, "operationId": "exportLogsLangSmithPath"}},
        "/logs/unjoined": {
            "get": {
                "operationId": "listUnjoinedLogRecords",
                "summary": "One project's OTLP log records that joined no run, and its join "
                "counts (the project of the Langsmith-Project header, else of `project`, "
                "else default)",
                "parameters": [
                    {"name": "project", "in": "query", "schema": {"type": "string"}},
                    {
                        "name": "limit",
                        "in": "query",
                        "schema": {"type": "integer", "minimum": 1, "maximum": 1000},
                    },
                    {"name": "offset", "in": "query", "schema": {"type": "integer", "minimum": 0}},
                ],
                "responses": {"200": _json({"type": "object"}, "counts and records")},
            }
        },
        "/info": {
            "get": {
                "operationId": "info",
                "summary": "Server version, instance flags and batch ingest config",
                "responses": {"200": _json({"type": "object"}, "Server information")},
            }
        },
        "/sessions": {
            "get": {
                "operationId": "listProjects",
                "summary": "List projects",
                "parameters": [
                    {"name": "name", "in": "query", "schema": {"type": "string"}},
                    {
                        "name": "id",
                        "in": "query",
                        "schema": {"type": "array", "items": {"type": "string"}},
                    },
                    {
                        "name": "limit",
                        "in": "query",
                        "schema": {"type": "integer", "minimum": 1, "maximum": 1000},
                    },
                    {"name": "offset", "in": "query", "schema": {"type": "integer"}},
                ],
                "responses": {
                    "200": _json(
                        {"type": "array", "items": {"$ref": "#/components/schemas/Project"}},
                        "Projects",
                    ),
                    "400": _json(_ERROR, "Bad parameter"),
                },
            }
        },
        "/sessions/{session_id}": {
            "get": {
                "operationId": "readProject",
                "summary": "Read a project",
                "parameters": [{"name": "session_id", **_UUID_PATH}],
                "responses": {
                    "200": _json({"$ref": "#/components/schemas/Project"}, "The project"),
                    "404": _json(_ERROR, "No such project"),
                },
            }
        },
        "/runs/query": {
            "post": {
                "operationId": "queryRuns",
                "summary": "Query runs (LangSmith's filter language)",
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {"schema": _RUN_QUERY_BODY}},
                },
                "responses": {
                    "200": _json(
                        {
                            "type": "object",
                            "properties": {
                                "runs": {
                                    "type": "array",
                                    "items": {"$ref": "#/components/schemas/Run"},
                                },
                                "cursors": {
                                    "type": "object",
                                    "properties": {"next": {"type": ["string", "null"]}},
                                },
                            },
                        },
                        "A page of runs",
                    ),
                    "400": _json(_ERROR, "Bad query or filter (the parser's message)"),
                },
            }
        },
        "/runs/{run_id}": {
            "get": {
                "operationId": "readRun",
                "summary": "Read a run",
                "parameters": [{"name": "run_id", **_UUID_PATH}],
                "responses": {
                    "200": _json({"$ref": "#/components/schemas/Run"}, "The run"),
                    "404": _json(_ERROR, "No such run"),
                },
            }
        },
        "/runs/stats": {
            "post": {
                "operationId": "runStats",
                "summary": "Counts, error rate, latency percentiles, tokens and cost of runs",
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {"schema": _STATS_BODY}},
                },
                "responses": {
                    "200": _json(_RUN_STATS, "Run statistics"),
                    "400": _json(_ERROR, "Bad query or filter"),
                },
            }
        },
        "/api/v2/runs/query": {
            "post": {
                "operationId": "queryRunsV2",
                "summary": "Query runs, v2 (langsmith >= 0.15: client.runs.query)",
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {"schema": _V2_QUERY_BODY}},
                },
                "responses": {
                    "200": _json(
                        {
                            "type": "object",
                            "properties": {
                                "items": {
                                    "type": "array",
                                    "items": {"$ref": "#/components/schemas/RunV2"},
                                },
                                "next_cursor": {"type": ["string", "null"]},
                            },
                        },
                        "A page of runs with the selected fields",
                    ),
                    "400": _json(_ERROR, "Bad query or filter"),
                    "406": _json(_ERROR, "Streaming (text/event-stream) is not served"),
                    "501": _json(_ERROR, "AI and semantic search are not served"),
                },
            }
        },
        "/api/v2/runs/{run_id}": {
            "get": {
                "operationId": "readRunV2",
                "summary": "Read a run, v2 (langsmith >= 0.15: client.runs.retrieve)",
                "parameters": [
                    {"name": "run_id", **_UUID_PATH},
                    {
                        "name": "project_id",
                        "in": "query",
                        "required": True,
                        "schema": {"type": "string", "format": "uuid"},
                    },
                    {"name": "selects", "in": "query", "schema": _V2_SELECTS},
                    {
                        "name": "start_time",
                        "in": "query",
                        "schema": {"type": "string", "format": "date-time"},
                    },
                ],
                "responses": {
                    "200": _json({"$ref": "#/components/schemas/RunV2"}, "The run"),
                    "400": _json(_ERROR, "Bad parameter"),
                    "404": _json(_ERROR, "No such run in that project"),
                },
            }
        },
        "/openapi.json": {
            "get": {
                "operationId": "openapi",
                "summary": "This description",
                "responses": {"200": _json({"type": "object"}, "OpenAPI 3.1")},
            }
        },
    },
}
