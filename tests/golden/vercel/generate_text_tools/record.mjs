// Record the Vercel AI SDK golden case with the REAL `ai` package (v6): generateText
// with a tool (two steps: a tool call, then the answer), streamText, and embedMany,
// all on the SDK's own mock models (`ai/test`), telemetry on, spans captured by
// @opentelemetry/sdk-trace-base's InMemorySpanExporter and written as OTLP/JSON spans
// (hex ids, attributes as AnyValue) to spans.json; record.py turns that into the
// ExportTraceServiceRequest (request.json).
//
//   mkdir /tmp/rec_vercel && cd /tmp/rec_vercel && npm init -y && \
//     npm install ai @opentelemetry/api @opentelemetry/sdk-trace-base \
//     @opentelemetry/context-async-hooks zod
//   cp <repo>/tests/golden/vercel/generate_text_tools/record.mjs . && node record.mjs
//   python <repo>/tests/golden/vercel/generate_text_tools/record.py spans.json
//
// Recorded with ai 6.0.326, @opentelemetry/sdk-trace-base 2.x, node 20.
import { writeFileSync } from "node:fs";
import { embedMany, generateText, simulateReadableStream, stepCountIs, streamText, tool } from "ai";
import { MockEmbeddingModelV3, MockLanguageModelV3 } from "ai/test";
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from "@opentelemetry/sdk-trace-base";
import { context } from "@opentelemetry/api";
import { AsyncLocalStorageContextManager } from "@opentelemetry/context-async-hooks";
import { z } from "zod";

// Without a context manager, Node.js spans lose their parents.
context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());

const exporter = new InMemorySpanExporter();
const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
const tracer = provider.getTracer("ai");

const usage = (input, output, cacheRead) => ({
  inputTokens: { total: input, noCache: input - cacheRead, cacheRead, cacheWrite: undefined },
  outputTokens: { total: output, text: output - 2, reasoning: 2 },
});

let step = 0;
const chatModel = new MockLanguageModelV3({
  provider: "openai.chat",
  modelId: "gpt-4o-mini",
  doGenerate: async () => {
    step += 1;
    if (step === 1) {
      return {
        content: [{ type: "tool-call", toolCallId: "call_1", toolName: "getWeather",
                    input: JSON.stringify({ city: "Paris" }) }],
        finishReason: { unified: "tool-calls", raw: "tool_calls" },
        usage: usage(40, 12, 16),
        response: { id: "resp-1", modelId: "gpt-4o-mini-2024-07-18", timestamp: new Date(0) },
        warnings: [],
      };
    }
    return {
      content: [{ type: "text", text: "It is 18°C and sunny in Paris." }],
      finishReason: { unified: "stop", raw: "stop" },
      usage: usage(60, 10, 32),
      response: { id: "resp-2", modelId: "gpt-4o-mini-2024-07-18", timestamp: new Date(0) },
      warnings: [],
    };
  },
  doStream: async () => ({
    stream: simulateReadableStream({
      chunks: [
        { type: "text-start", id: "t1" },
        { type: "text-delta", id: "t1", delta: "Bonjour " },
        { type: "text-delta", id: "t1", delta: "Paris!" },
        { type: "text-end", id: "t1" },
        { type: "finish", finishReason: { unified: "stop", raw: "stop" }, usage: usage(8, 4, 0) },
      ],
    }),
  }),
});

const embeddingModel = new MockEmbeddingModelV3({
  provider: "openai.embedding",
  modelId: "text-embedding-3-small",
  doEmbed: async ({ values }) => ({
    embeddings: values.map((_, i) => [0.25, -0.5, 0.125 * (i + 1)]),
    usage: { tokens: 4 * values.length },
    warnings: [],
  }),
});

const telemetry = (functionId) => ({
  isEnabled: true, functionId, tracer, metadata: { userId: "user-3", tier: "pro" },
});

await generateText({
  model: chatModel,
  system: "You answer weather questions.",
  prompt: "What is the weather in Paris?",
  temperature: 0.2,
  maxOutputTokens: 300,
  tools: {
    getWeather: tool({
      description: "Current weather in a city",
      inputSchema: z.object({ city: z.string() }),
      execute: async ({ city }) => ({ city, forecast: "18°C and sunny" }),
    }),
  },
  stopWhen: stepCountIs(2),
  experimental_telemetry: telemetry("weather-bot"),
});

const stream = streamText({
  model: chatModel,
  prompt: "Say hello to Paris.",
  experimental_telemetry: telemetry("greeter"),
});
for await (const _ of stream.textStream) { /* drain */ }

await embedMany({
  model: embeddingModel,
  values: ["Paris", "Lyon"],
  experimental_telemetry: telemetry("indexer"),
});

await provider.forceFlush();

const anyValue = (v) => {
  if (typeof v === "string") return { stringValue: v };
  if (typeof v === "boolean") return { boolValue: v };
  if (typeof v === "number") return Number.isInteger(v) ? { intValue: String(v) } : { doubleValue: v };
  if (Array.isArray(v)) return { arrayValue: { values: v.map(anyValue) } };
  return { stringValue: String(v) };
};
const ns = ([s, n]) => String(BigInt(s) * 1000000000n + BigInt(n));
const spans = exporter.getFinishedSpans().map((s) => ({
  traceId: s.spanContext().traceId,
  spanId: s.spanContext().spanId,
  parentSpanId: s.parentSpanContext ? s.parentSpanContext.spanId : "",
  name: s.name,
  kind: s.kind + 1, // the JS API enum starts at INTERNAL = 0; OTLP's at UNSPECIFIED = 0
  startTimeUnixNano: ns(s.startTime),
  endTimeUnixNano: ns(s.endTime),
  attributes: Object.entries(s.attributes).map(([key, value]) => ({ key, value: anyValue(value) })),
  events: s.events.map((e) => ({
    name: e.name, timeUnixNano: ns(e.time),
    attributes: Object.entries(e.attributes ?? {}).map(([key, value]) => ({ key, value: anyValue(value) })),
  })),
  status: { code: s.status.code, ...(s.status.message ? { message: s.status.message } : {}) },
}));
writeFileSync("spans.json", JSON.stringify({
  scope: { name: "ai", version: "6.0.326" },
  resource: Object.entries(s0resource()).map(([key, value]) => ({ key, value: anyValue(value) })),
  spans,
}, null, 1));
console.log(`spans.json: ${spans.length} spans`);

function s0resource() {
  const first = exporter.getFinishedSpans()[0];
  return first ? first.resource.attributes : {};
}
