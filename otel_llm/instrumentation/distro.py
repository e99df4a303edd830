"""`opentelemetry-instrument` with no code: the `otel_llm` distro and configurator.

`pip install 'otel-llm[instrument]'` then `opentelemetry-instrument python app.py`:
the distro sets, for each variable not set already, OTLP/HTTP traces to a local
`otel-llm serve` (`http://127.0.0.1:4318`) and no metrics or logs
(`config.DISTRO_DEFAULTS`); the configurator sets up the SDK's tracer provider and
exporters from the standard `OTEL_*` variables (any `OTEL_TRACES_EXPORTER` entry point,
the project's `otel_llm_runs` / `otel_llm_otlp` / `otel_llm_console` included), unless
a tracer provider is already set, which is then kept. The project's instrumentors are
loaded by `opentelemetry-instrument` from their entry points.
"""

from __future__ import annotations

from typing import Any

from opentelemetry import trace
from opentelemetry.instrumentation.distro import BaseDistro  # type: ignore[attr-defined]
from opentelemetry.sdk._configuration import _OTelSDKConfigurator

from otel_llm import config


class OtelLlmDistro(BaseDistro):  # type: ignore[misc]
    """Entry point `opentelemetry_distro` `otel_llm` (select it with
    `OTEL_PYTHON_DISTRO=otel_llm` when another distro is installed too)."""

    def _configure(self, **kwargs: Any) -> None:
        config.set_defaults(config.DISTRO_DEFAULTS)


class OtelLlmConfigurator(_OTelSDKConfigurator):
    """Entry point `opentelemetry_configurator` `otel_llm`: the SDK's own configurator,
    which leaves an app's tracer provider in place."""

    def _configure(self, **kwargs: Any) -> None:
        if not isinstance(trace.get_tracer_provider(), trace.ProxyTracerProvider):
            return
        super()._configure(**kwargs)  # type: ignore[no-untyped-call]
