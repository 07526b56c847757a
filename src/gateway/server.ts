import { randomBytes, timingSafeEqual } from "node:crypto";
import { errorMessage, runtimeError, usageError } from "../errors.ts";
import { anthropicDialect } from "./anthropic.ts";
import type { DialectCodec, RequestShape, SentToolResult } from "./dialect.ts";
import { classifyFailure, retryAfterToIso, type GatewayError } from "./failure.ts";
import { type Dialect, type ModelSpec, parseModelSpec, type Provider } from "./model-spec.ts";
import { openaiDialect } from "./openai.ts";
import { responsesDialect } from "./responses.ts";
import { type ProviderNetworkCheck, withoutProviderNetwork } from "./provider-network.ts";
import { priceFor, SCRIPTED_PRICE_ALIAS, type TokenCounts } from "./prices.ts";
import { Recorder } from "./recorder.ts";
import { Redactor } from "./redact.ts";
import { isRecord, type Reply } from "./reply.ts";
import { loadScript, type Script, type Step } from "./script.ts";
import { sideAnswer, sideRequestKind } from "./side-request.ts";
import { SseReader } from "./sse.ts";
import { mapToolCall } from "./tool-map.ts";
import { type UsageDelta, UsageMeter, type UsageTotals } from "./usage.ts";

export interface GatewayOptions {
  /** "scripted:/abs/file.json" | "scripted" (with `script`) | "anthropic/claude-sonnet-4-5" | "openai/gpt-4.1" | … */
  model: string;
  /** An already-parsed script; with it, `model` may be just "scripted". */
  script?: Script;
  /** Host env to read keys and base URLs from (default process.env). */
  env?: Record<string, string | undefined>;
  /** Append every request the agent made as NDJSON, secrets redacted. */
  recordFile?: string;
  /** Called after every successful model response with that response's usage and cost. */
  onUsage?: (u: UsageDelta) => void;
  /** Use this token instead of a random one. For tests: a scripted gateway playing a provider that expects a given key. */
  token?: string;
  /**
   * Whether the run's policy grants the network to every host, so the provider may reach it for the agent (its web
   * search and fetch tools, content by URL); else they are taken out or refused (provider-network.ts). Asked at each
   * request: the policy is compiled after the gateway opens (its port is part of the policy).
   */
  providerNetwork?: () => boolean;
}

export type BillingType = "api" | "unknown";

export interface Gateway {
  /** http://127.0.0.1:PORT (no trailing slash, no /v1). */
  readonly url: string;
  readonly port: number;
  /** The per-run secret the agent uses as its API key (x-api-key or Authorization: Bearer). */
  readonly token: string;
  readonly provider: Provider;
  readonly biller: string;
  /** The model requests are sent as and priced by ("scripted" for the scripted model). */
  readonly model: string;
  /** "api" when a provider key pays; "unknown" for the scripted model (nothing is billed; costUsd is what it would cost). */
  readonly billingType: BillingType;
  /** Human-readable remarks for the run: a model missing from the price table, a script tool step that does not fit
   *  the tools the agent offered (grows while the gateway runs). */
  readonly notes: readonly string[];
  usage(): UsageTotals;
  /** The failure of the latest turn request (side requests aside), or null if it succeeded. */
  lastError(): GatewayError | null;
  /** Every failure seen, in order. */
  errors(): readonly GatewayError[];
  /** Model requests received (including rejected ones). */
  requests(): number;
  /** Script steps consumed so far (scripted model only; 0 otherwise). */
  stepsUsed(): number;
  /**
   * Calls `listener` with each tool result the agent sends the model, once per call id, redacted: a tool's output as
   * the model sees it, which the agent's own events may lack (Claude Code's and Codex's do). Returns the unsubscribe.
   */
  onToolResult(listener: (r: SentToolResult) => void): () => void;
  close(): Promise<void>;
}

const ANTHROPIC_DEFAULT_BASE = "https://api.anthropic.com";
const OPENAI_DEFAULT_BASE = "https://api.openai.com/v1";
const MAX_ERROR_BODY = 64 * 1024;

interface Upstream {
  provider: "anthropic" | "openai";
  key: string;
  /** The provider's base URL (Anthropic's without /v1, OpenAI's with it, as their SDKs take them). */
  base: string;
  /** The upstream endpoint of each dialect this provider speaks. */
  urls: Partial<Record<Dialect, string>>;
}

const DIALECTS: Record<Dialect, DialectCodec> = { anthropic: anthropicDialect, openai: openaiDialect, responses: responsesDialect };

/** One authenticated model request with a JSON object body, as the scripted and the forwarding handler get it. */
interface ModelCall {
  req: Request;
  dialect: Dialect;
  body: Record<string, unknown>;
  shape: RequestShape;
  seq: number;
  /** The request's record line so far (seq, dialect, path, redacted headers, body); the handler adds its answer. */
  base: Record<string, unknown>;
}

function routeOf(method: string, path: string): Dialect | undefined {
  if (method !== "POST") return undefined;
  const p = path.replace(/\/+$/, "").replace(/^\/v1(?=\/)/, "");
  return (Object.keys(DIALECTS) as Dialect[]).find((d) => DIALECTS[d].path === `/v1${p}`);
}

function errorResponse(dialect: Dialect, status: number, message: string, type?: string): Response {
  // The gateway already decided this answer; SDK-level retries would only replay it (and consume script steps).
  return Response.json(DIALECTS[dialect].error(status, message, type), { status, headers: { "x-should-retry": "false" } });
}

function baseUrl(env: Record<string, string | undefined>, name: string, fallback: string): string {
  const raw = env[name]?.trim() || fallback;
  let u: URL;
  try {
    u = new URL(raw);
  } catch {
    throw usageError(`${name} is not a URL: ${raw}`, `set ${name} to an http(s) URL such as ${fallback}, or unset it`, "invalid_config");
  }
  if (u.protocol !== "http:" && u.protocol !== "https:")
    throw usageError(`${name} must be http or https: ${raw}`, `set ${name} to an http(s) URL such as ${fallback}`, "invalid_config");
  return raw.replace(/\/+$/, "");
}

function resolveUpstream(spec: ModelSpec, env: Record<string, string | undefined>): Upstream | undefined {
  if (spec.provider === "scripted") return undefined;
  const keyVar = spec.provider === "anthropic" ? "ANTHROPIC_API_KEY" : "OPENAI_API_KEY";
  const key = env[keyVar]?.trim();
  if (!key)
    throw usageError(
      `model ${spec.provider}/${spec.model} needs an API key, but ${keyVar} is not set`,
      `export ${keyVar}=... on the host (the key stays in the host-side gateway and never enters the VM), or use --model scripted:FILE`,
      "missing_api_key",
    );
  if (spec.provider === "anthropic") {
    const base = baseUrl(env, "ANTHROPIC_BASE_URL", ANTHROPIC_DEFAULT_BASE);
    return { provider: "anthropic", key, base, urls: { anthropic: `${base}/v1/messages` } };
  }
  const base = baseUrl(env, "OPENAI_BASE_URL", OPENAI_DEFAULT_BASE);
  return { provider: "openai", key, base, urls: { openai: `${base}/chat/completions`, responses: `${base}/responses` } };
}

function billerOf(spec: ModelSpec, upstream: Upstream | undefined): string {
  if (!upstream) return "scripted";
  const host = new URL(upstream.base).hostname;
  if (host.endsWith("openrouter.ai")) return "openrouter";
  return spec.provider;
}

function sameSecret(given: string | null, token: string): boolean {
  if (!given) return false;
  const a = Buffer.from(given);
  const b = Buffer.from(token);
  return a.length === b.length && timingSafeEqual(a, b);
}

/** The token a request presents, as x-api-key or a Bearer authorization. */
export function presentedToken(req: Request): string | null {
  const key = req.headers.get("x-api-key");
  if (key) return key;
  const auth = req.headers.get("authorization");
  const m = auth ? /^Bearer\s+(.+)$/i.exec(auth) : null;
  return m?.[1]?.trim() ?? null;
}

/** Request headers worth passing upstream; auth is set by the gateway, framing by fetch. */
function upstreamHeaders(req: Request, up: Upstream): Headers {
  const out = new Headers();
  req.headers.forEach((value, name) => {
    const n = name.toLowerCase();
    if (n === "content-type" || n === "accept" || n === "user-agent" || n.startsWith("anthropic-") || n.startsWith("x-stainless-") || n === "openai-beta")
      out.set(n, value);
  });
  out.set("content-type", "application/json");
  if (up.provider === "anthropic") {
    out.set("x-api-key", up.key);
    if (!out.has("anthropic-version")) out.set("anthropic-version", "2023-06-01");
  } else {
    out.set("authorization", `Bearer ${up.key}`);
  }
  return out;
}

function responseHeaders(h: Headers): Headers {
  const out = new Headers();
  h.forEach((value, name) => {
    const n = name.toLowerCase();
    if (
      n === "content-type" ||
      n === "request-id" ||
      n === "x-request-id" ||
      n === "retry-after" ||
      n === "x-should-retry" ||
      n.startsWith("anthropic-") ||
      n.startsWith("x-ratelimit-") ||
      n.startsWith("openai-")
    )
      out.set(n, value);
  });
  return out;
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const t = setTimeout(resolve, ms);
    signal.addEventListener("abort", () => {
      clearTimeout(t);
      resolve();
    }, { once: true });
  });
}

/**
 * A step tool-map.ts could not fit to the agent's tools (an unknown tool, or an input lacking what the agent's tool
 * requires) is still sent as scripted (the agent reports the bad call itself), but the mismatch becomes a note so a
 * script author sees why a step did nothing.
 */
function toolMismatch(name: string, input: Record<string, unknown>, shape: RequestShape): string | undefined {
  if (!shape.hasTools) return `calls tool "${name}" but the request offered no tools`;
  const tool = shape.tools.find((t) => t.name === name);
  if (!tool) return `calls tool "${name}" but the agent offers ${shape.tools.map((t) => t.name).join(", ")}`;
  const missing = tool.required.filter((k) => !(k in input));
  if (missing.length) return `tool "${name}" input lacks required ${missing.join(", ")} (the agent's ${name} takes ${tool.required.join(", ")})`;
  return undefined;
}

/** A script step without `usage`: about 4 characters a token, at least 1 (index.ts states the rule). */
function estimatedUsage(body: Record<string, unknown>, r: Reply): TokenCounts {
  const tokens = (chars: number) => Math.max(1, Math.ceil(chars / 4));
  const answer = (r.thinking?.length ?? 0) + (r.text?.length ?? 0) + (r.tool ? r.tool.name.length + JSON.stringify(r.tool.input).length : 0);
  return { inputTokens: tokens(JSON.stringify(body).length), outputTokens: tokens(answer), cachedInputTokens: 0 };
}

const ZERO: TokenCounts = { inputTokens: 0, outputTokens: 0, cachedInputTokens: 0 };

/**
 * One run's gateway without its listener: the token, the script or upstream, the meter, the recorder and the request
 * handler. startGateway serves it on a port of its own; the worker's GatewayHub (hub.ts) serves many on one port.
 */
export interface GatewayCore {
  readonly token: string;
  handle(req: Request): Promise<Response>;
  /** The Gateway face once it is served at `port`; `stop` ends the listening (the hub's: forget the token). */
  face(port: number, stop: () => Promise<unknown>): Gateway;
}

export async function startGateway(opts: GatewayOptions): Promise<Gateway> {
  const core = await openGatewayCore(opts);
  let server: ReturnType<typeof Bun.serve>;
  try {
    server = serveGateway("127.0.0.1", 0, core.handle);
  } catch (e) {
    throw runtimeError(`the model gateway cannot listen on 127.0.0.1: ${errorMessage(e)}`, undefined, "gateway_listen_failed", e);
  }
  const port = server.port as number;
  // Codex's WASM build in agentOS 0.2.21 cannot connect to 127.0.0.1 (errno 21) and resolves localhost to ::1, so
  // the same port answers there too (docs/agentos.md, "Codex"). A host without IPv6 loopback only loses Codex.
  let server6: ReturnType<typeof Bun.serve> | undefined;
  try {
    server6 = serveGateway("::1", port, core.handle);
  } catch {
    server6 = undefined;
  }
  return core.face(port, () => Promise.all([server.stop(true), server6?.stop(true)]));
}

/** A loopback listener for gateway requests (`handle` turns its own failures into an answer). */
export function serveGateway(hostname: string, port: number, handle: (req: Request) => Promise<Response>): ReturnType<typeof Bun.serve> {
  return Bun.serve({
    hostname,
    port,
    // Model calls can be silent for a long time (long thinking, scripted delays); the agent's own timeout governs.
    idleTimeout: 0,
    fetch: (req, srv) => {
      srv.timeout(req, 0);
      return handle(req);
    },
  });
}

export async function openGatewayCore(opts: GatewayOptions): Promise<GatewayCore> {
  const env = opts.env ?? process.env;
  const spec = parseModelSpec(opts.model);
  let script: Script | undefined;
  if (spec.provider === "scripted") {
    script = opts.script ?? (spec.scriptFile ? await loadScript(spec.scriptFile) : undefined);
    if (!script) throw usageError(`model "${opts.model}" names no script`, "use --model scripted:/path/script.json", "invalid_model");
  } else if (opts.script) {
    throw usageError(`a script was given but model "${opts.model}" is not scripted`, 'use model "scripted" with a script', "invalid_model");
  }
  const upstream = resolveUpstream(spec, env);
  const token = opts.token ?? `pcgw-${randomBytes(24).toString("hex")}`;
  const runId = randomBytes(4).toString("hex");
  const redactor = new Redactor([token, upstream?.key, ...Redactor.envSecrets(env)]);
  const recorder = opts.recordFile ? new Recorder(opts.recordFile, redactor) : undefined;
  const priceModel = spec.provider === "scripted" ? "scripted" : spec.model;
  const meter = new UsageMeter(priceModel, opts.onUsage);
  const notes: string[] = [];
  if (spec.provider === "scripted") notes.push(`the scripted model is priced like ${SCRIPTED_PRICE_ALIAS}; nothing is billed`);
  else if (!priceFor(spec.model)) notes.push(`no price known for model ${spec.model}: costUsd is reported as 0`);

  const errors: GatewayError[] = [];
  let last: GatewayError | null = null;
  let seqCounter = 0;
  let stepIndex = 0;
  /** The last step answered with a model reply, and which request it answered (an SDK retry of it gets it again). */
  let lastAnswered: { bodyKey: string; stepNo: number } | null = null;
  const toolResultListeners = new Set<(r: SentToolResult) => void>();
  // Every request repeats the conversation so far: each tool result is passed on when it first appears.
  const toolResultIds = new Set<string>();
  const passToolResults = (body: Record<string, unknown>, dialect: Dialect): void => {
    for (const r of DIALECTS[dialect].toolResults(body)) {
      if (toolResultIds.has(r.id)) continue;
      toolResultIds.add(r.id);
      const clean = { id: r.id, text: redactor.text(r.text) };
      for (const l of toolResultListeners) l(clean);
    }
  };
  let toolCounter = 0;

  const fail = (err: GatewayError, turn: boolean): void => {
    const clean = { ...err, message: redactor.text(err.message) };
    errors.push(clean);
    if (turn) last = clean;
  };

  const record = (entry: Record<string, unknown>) => recorder?.write({ ts: new Date().toISOString(), ...entry });

  /** The gateway itself refuses a request (no upstream or script step involved). */
  const refuse = (dialect: Dialect, base: Record<string, unknown>, err: GatewayError & { status: number }, turn: boolean): Response => {
    fail(err, turn);
    record({ ...base, status: err.status, error: err.message });
    return errorResponse(dialect, err.status, err.message);
  };

  const scripted = async ({ req, dialect, body, shape, seq, base }: ModelCall): Promise<Response> => {
    const codec = DIALECTS[dialect];
    const side = sideRequestKind(shape);
    let step: Step | undefined;
    let stepNo: number | undefined;
    // An SDK that lost the answer (a dropped connection, a timeout under load) sends the same request again with its
    // retry count (the Anthropic and OpenAI SDKs' x-stainless-retry-count): it gets the step it was answered with,
    // not the next one, which belongs to the turn's next request.
    const bodyKey = side ? "" : String(Bun.hash(JSON.stringify(body)));
    const replay = !side && lastAnswered?.bodyKey === bodyKey && Number(req.headers.get("x-stainless-retry-count") ?? 0) > 0;
    if (replay) {
      stepNo = lastAnswered!.stepNo;
      step = script!.steps[stepNo];
    } else if (!side && stepIndex < script!.steps.length) {
      stepNo = stepIndex++;
      step = script!.steps[stepNo];
    }
    if (!side) lastAnswered = step && !step.error && stepNo !== undefined ? { bodyKey, stepNo } : null;
    const answeredBy: UsageDelta["answeredBy"] = side ? "side" : "step";

    if (!side && !step) {
      // Past the last step: the run fails (exit 1, errorCode script_exhausted) rather than inventing an answer. A 400
      // is an error no agent or SDK retries.
      const n = script!.steps.length;
      const message = `the scripted model has no step left: model request ${seq} came after all ${n} step${n === 1 ? " was" : "s were"} used (add steps to the script, and end the turn with a {"text": ...} step)`;
      // Right after a scripted failure step this request is the agent retrying it (OpenCode and Claude Code retry
      // 429/5xx themselves): the turn's failure stays the one the script injected, as a provider failing again would.
      const retried = last !== null && last.source === "scripted" && last.errorCode !== "script_exhausted";
      fail({ errorCode: "script_exhausted", family: "bad_request", message, status: 400, source: "scripted" }, !retried);
      record({ ...base, answeredBy: "exhausted", status: 400, error: message });
      return errorResponse(dialect, 400, message);
    }

    if (step?.delayMs) await sleep(step.delayMs, req.signal);

    if (step?.error) {
      const { status, message, type, retryAfter } = step.error;
      const c = classifyFailure(status, type, message);
      fail({ ...c, message, status, source: "scripted", retryNotBefore: retryAfterToIso(retryAfter) }, true);
      record({ ...base, answeredBy, step: stepNo, status });
      const res = errorResponse(dialect, status, message, type);
      if (retryAfter !== undefined) res.headers.set("retry-after", String(retryAfter));
      return res;
    }

    const reply: Reply = {
      id: `${codec.replyIdPrefix}${runId}${String(seq).padStart(4, "0")}`,
      model: shape.model || "scripted",
      usage: ZERO,
    };
    if (side) reply.text = sideAnswer(side);
    else if (step) {
      if (step.thinking !== undefined) reply.thinking = step.thinking;
      if (step.text !== undefined) reply.text = step.text;
      if (step.tool !== undefined) {
        const id = `${codec.toolIdPrefix}${runId}_${++toolCounter}`;
        const call = mapToolCall(step.tool, step.input ?? {}, shape.tools);
        reply.tool = { id, ...call };
        if (call.name !== step.tool) base.tool = { scripted: step.tool, sent: call.name };
        const warning = toolMismatch(reply.tool.name, reply.tool.input, shape);
        if (warning) {
          const note = `script step ${stepNo}: ${warning}`;
          base.warning = note;
          if (!notes.includes(note)) notes.push(note);
        }
      }
      reply.usage = step.usage
        ? { inputTokens: step.usage.input, outputTokens: step.usage.output, cachedInputTokens: step.usage.cached ?? 0 }
        : estimatedUsage(body, reply);
    }
    const delta = meter.add(seq, answeredBy, reply.usage);
    if (!side) last = null;
    record({ ...base, answeredBy, ...(side ? { side } : {}), ...(stepNo !== undefined ? { step: stepNo } : {}), status: 200, usage: delta });

    const created = Math.floor(Date.now() / 1000);
    if (shape.stream)
      return new Response(codec.sse(reply, created, body).join(""), { headers: { "content-type": "text/event-stream", "cache-control": "no-cache" } });
    return Response.json(codec.json(reply, created));
  };

  const forward = async ({ req, dialect, body, shape, seq, base }: ModelCall): Promise<Response> => {
    const up = upstream!;
    const turn = !sideRequestKind(shape);
    const url = up.urls[dialect];
    if (!url) {
      const speaks = (Object.keys(up.urls) as Dialect[]).map((d) => `${DIALECTS[d].label} (${DIALECTS[d].path})`).join(" and ");
      const message = `this gateway forwards to ${spec.provider}, which speaks ${speaks}; the agent sent a ${DIALECTS[dialect].label} request (${DIALECTS[dialect].path})`;
      return refuse(dialect, base, { errorCode: "gateway_dialect_mismatch", family: "bad_request", message, status: 400, source: "gateway" }, turn);
    }
    // The provider reaching the network for the agent would go past the VM's network policy (provider-network.ts).
    const net: ProviderNetworkCheck = opts.providerNetwork?.() ? { body, removed: [] } : withoutProviderNetwork(dialect, body);
    if (net.refused) {
      const message = `the model gateway refused the request: ${net.refused}`;
      return refuse(dialect, base, { errorCode: "gateway_provider_network", family: "bad_request", message, status: 400, source: "gateway" }, false);
    }
    if (net.removed.length) {
      const note = `the gateway took the provider's own network tools out of the agent's requests (${net.removed.join(", ")}): they would reach hosts the VM's policy does not grant`;
      if (!notes.includes(note)) notes.push(note);
    }
    const out: Record<string, unknown> = { ...net.body, model: spec.model };
    if (dialect === "openai" && shape.stream) {
      const so = isRecord(body.stream_options) ? body.stream_options : {};
      if (so.include_usage !== true) out.stream_options = { ...so, include_usage: true };
    }
    const target = new URL(url);
    target.search = new URL(req.url).search;
    let res: Response;
    try {
      res = await fetch(target, { method: "POST", headers: upstreamHeaders(req, up), body: JSON.stringify(out), signal: req.signal });
    } catch (e) {
      const message = `cannot reach ${spec.provider} at ${target.origin}: ${errorMessage(e)}`;
      if (!req.signal.aborted) fail({ errorCode: "upstream_unreachable", family: "upstream", message, source: "gateway" }, turn);
      record({ ...base, answeredBy: "upstream", status: 502, error: redactor.text(message) });
      return errorResponse(dialect, 502, redactor.text(message), DIALECTS[dialect].errorType(502));
    }

    if (!res.ok) {
      const raw = redactor.text((await res.text()).slice(0, MAX_ERROR_BODY));
      let type: string | undefined;
      let message = raw.trim() || res.statusText;
      try {
        const j = JSON.parse(raw) as unknown;
        const e = isRecord(j) && isRecord(j.error) ? j.error : undefined;
        if (e) {
          type = typeof e.type === "string" ? e.type : typeof e.code === "string" ? e.code : undefined;
          if (typeof e.message === "string") message = e.message;
        }
      } catch {
        // A non-JSON error page: the raw (redacted) text is the message.
      }
      const c = classifyFailure(res.status, type, message);
      const retryNotBefore = retryAfterToIso(res.headers.get("retry-after"));
      fail({ ...c, message: `${spec.provider} returned ${res.status}${type ? ` ${type}` : ""}: ${message}`, status: res.status, source: "upstream", retryNotBefore }, turn);
      record({ ...base, answeredBy: "upstream", status: res.status, error: message });
      return new Response(raw, { status: res.status, headers: responseHeaders(res.headers) });
    }

    const m = DIALECTS[dialect].meter();
    const finish = () => {
      if (m.error) {
        const c = classifyFailure(0, m.error.type, m.error.message);
        fail({ ...c, message: `${spec.provider} stream error${m.error.type ? ` ${m.error.type}` : ""}: ${m.error.message}`, source: "upstream" }, turn);
      } else if (turn) last = null;
      meter.add(seq, "upstream", m.usage());
    };
    const headers = responseHeaders(res.headers);
    record({ ...base, answeredBy: "upstream", status: res.status });
    const isSse = (res.headers.get("content-type") ?? "").includes("text/event-stream");
    if (!isSse || !res.body) {
      const text = await res.text();
      try {
        m.body(JSON.parse(text));
      } catch {
        // Not JSON: nothing to meter.
      }
      finish();
      return new Response(text, { status: res.status, headers });
    }

    const reader = res.body.getReader();
    const decoder = new TextDecoder();
    const sse = new SseReader((d) => m.event(d));
    let done = false;
    const end = () => {
      if (done) return;
      done = true;
      sse.push(decoder.decode());
      sse.finish();
      finish();
    };
    const stream = new ReadableStream<Uint8Array>({
      async pull(controller) {
        try {
          const { value, done: eof } = await reader.read();
          if (eof) {
            end();
            controller.close();
            return;
          }
          sse.push(decoder.decode(value, { stream: true }));
          controller.enqueue(value);
        } catch (e) {
          end();
          controller.error(e);
        }
      },
      async cancel(reason) {
        end();
        await reader.cancel(reason).catch(() => {});
      },
    });
    return new Response(stream, { status: res.status, headers });
  };

  const handle = async (req: Request): Promise<Response> => {
    const url = new URL(req.url);
    // Claude Code checks that its base URL answers (HEAD /) before its first model call. It learns nothing from it.
    if (req.method === "HEAD" && url.pathname === "/") return new Response(null, { status: 200 });
    const dialect = routeOf(req.method, url.pathname);
    if (!dialect) {
      const served = Object.values(DIALECTS).map((d) => `POST ${d.path}`).join(", ");
      const message = `the model gateway has no ${req.method} ${url.pathname}; it serves ${served}`;
      record({ seq: ++seqCounter, method: req.method, path: url.pathname + url.search, status: 404, error: message });
      return Response.json(anthropicDialect.error(404, message), { status: 404 });
    }
    const seq = ++seqCounter;
    const base: Record<string, unknown> = { seq, dialect, method: req.method, path: url.pathname + url.search, headers: redactor.headers(req.headers) };

    if (!sameSecret(presentedToken(req), token)) {
      const message = "the model gateway rejected a request without this run's token";
      return refuse(dialect, base, { errorCode: "gateway_unauthorized", family: "auth", message, status: 401, source: "gateway" }, true);
    }

    let body: Record<string, unknown>;
    try {
      const parsed = (await req.json()) as unknown;
      if (!isRecord(parsed)) throw new Error("the body is not a JSON object");
      body = parsed;
    } catch (e) {
      const message = `the model gateway got a request body it cannot read: ${errorMessage(e)}`;
      return refuse(dialect, base, { errorCode: "gateway_bad_request", family: "bad_request", message, status: 400, source: "gateway" }, true);
    }
    base.body = body;
    passToolResults(body, dialect);
    const call: ModelCall = { req, dialect, body, shape: DIALECTS[dialect].requestShape(body), seq, base };
    return script ? scripted(call) : forward(call);
  };

  const guarded = (req: Request): Promise<Response> =>
    handle(req).catch((e: unknown) => {
      const message = redactor.text(`model gateway internal error: ${errorMessage(e)}`);
      fail({ errorCode: "gateway_error", family: "upstream", message, status: 500, source: "gateway" }, true);
      const url = new URL(req.url);
      record({ method: req.method, path: url.pathname + url.search, status: 500, error: message });
      return errorResponse("anthropic", 500, message);
    });

  const face = (port: number, stop: () => Promise<unknown>): Gateway => {
    let closed: Promise<void> | undefined;
    return {
      url: `http://127.0.0.1:${port}`,
      port,
      token,
      provider: spec.provider,
      biller: billerOf(spec, upstream),
      model: spec.model,
      billingType: upstream ? "api" : "unknown",
      notes,
      usage: () => meter.get(),
      lastError: () => last,
      errors: () => [...errors],
      requests: () => seqCounter,
      stepsUsed: () => stepIndex,
      onToolResult: (listener) => {
        toolResultListeners.add(listener);
        return () => toolResultListeners.delete(listener);
      },
      close: () => {
        closed ??= (async () => {
          await stop();
          await recorder?.flush();
        })();
        return closed;
      },
    };
  };
  return { token, handle: guarded, face };
}
