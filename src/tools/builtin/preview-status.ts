import * as v from "valibot";
import { defineTool } from "../types.ts";
import { ToolInputError, toolError } from "../errors.ts";

const LOOPBACK = new Set(["127.0.0.1", "localhost", "[::1]", "::1", "0.0.0.0"]);
const MAX_BODY = 256 * 1024;

const Input = v.strictObject({
  url: v.optional(v.pipe(v.string(), v.url(), v.description("http://127.0.0.1:PORT/path (loopback only); give url or port"))),
  port: v.optional(v.pipe(v.number(), v.integer(), v.minValue(1), v.maxValue(65535), v.description("Loopback port (instead of url)"))),
  path: v.optional(v.pipe(v.string(), v.startsWith("/"), v.maxLength(2000), v.description("Path with port (default /)"))),
  timeoutMs: v.optional(v.pipe(v.number(), v.integer(), v.minValue(100), v.maxValue(30_000), v.description("Give up after this long (default 5000)")), 5000),
});

const Output = v.object({
  url: v.string(),
  answering: v.boolean(),
  status: v.nullable(v.number()),
  latencyMs: v.number(),
  contentType: v.nullable(v.string()),
  title: v.nullable(v.string()),
  /** Redirect target, not followed (it could leave loopback). */
  location: v.nullable(v.string()),
  error: v.nullable(v.string()),
  /** "vm": a listener inside the run's VM; "host": a host loopback port (host CLI only). */
  via: v.picklist(["vm", "host"]),
});

type PreviewStatus = v.InferOutput<typeof Output>;

export const previewStatus = defineTool({
  name: "preview.status",
  description:
    "Is a preview answering on a loopback port: HTTP status, latency, content type, HTML <title>. " +
    "In a run: only the VM's own listeners. Redirects are reported, not followed.",
  input: Input,
  output: Output,
  examples: [
    { description: "Is the dev server up", input: { port: 5173 } },
    { description: "A page of it", input: { url: "http://127.0.0.1:3000/health" } },
  ],
  async execute(input, ctx, call) {
    // From the VM, only the VM's own listeners: never let the agent probe the host's loopback services.
    if (call.via === "vm" && !ctx.vm) throw toolError("no_vm", "preview.status has no VM to look into yet", "the runtime attaches the VM after boot");
    if ((input.url === undefined) === (input.port === undefined)) {
      throw new ToolInputError("give exactly one of url or port", input.url === undefined ? "" : "port", "e.g. {\"port\":5173} or {\"url\":\"http://127.0.0.1:5173/\"}");
    }
    let port: number;
    let path: string;
    if (input.url !== undefined) {
      const u = new URL(input.url);
      if (u.protocol !== "http:") throw new ToolInputError(`url must be http:, got ${u.protocol}`, "url");
      if (!LOOPBACK.has(u.hostname)) throw new ToolInputError(`url host '${u.hostname}' is not loopback`, "url", "preview.status only checks 127.0.0.1 / localhost");
      port = Number(u.port || 80);
      path = `${u.pathname}${u.search}`;
    } else {
      port = input.port!;
      path = input.path ?? "/";
    }
    if (ctx.previewPorts && !ctx.previewPorts.includes(port)) {
      throw toolError("port_not_allowed", `port ${port} is not one the policy lets the agent listen on (${ctx.previewPorts.join(", ") || "none"})`, "allow it with network.listen / --allow-listen");
    }
    const url = `http://127.0.0.1:${port}${path}`;
    const started = performance.now();
    const result = (r: Partial<PreviewStatus>): PreviewStatus => ({
      url,
      answering: false,
      status: null,
      contentType: null,
      title: null,
      location: null,
      error: null,
      via: ctx.vm ? "vm" : "host",
      ...r,
      latencyMs: Math.round(performance.now() - started),
    });
    try {
      let status: number;
      let headers: Record<string, string>;
      let body: Uint8Array;
      if (ctx.vm) {
        const r = await ctx.vm.http({ port, path, timeoutMs: input.timeoutMs });
        ({ status, headers, body } = r);
      } else {
        const r = await fetch(url, { redirect: "manual", signal: AbortSignal.timeout(input.timeoutMs) });
        status = r.status;
        headers = Object.fromEntries(r.headers.entries());
        body = await readCapped(r, MAX_BODY);
      }
      const contentType = headers["content-type"] ?? null;
      return result({
        answering: true,
        status,
        contentType,
        location: headers.location ?? null,
        title: contentType?.includes("html") ? titleOf(new TextDecoder().decode(body.subarray(0, MAX_BODY))) : null,
      });
    } catch (e) {
      return result({ error: describe(e) });
    }
  },
});

async function readCapped(r: Response, max: number): Promise<Uint8Array> {
  if (!r.body) return new Uint8Array();
  const reader = r.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  while (size < max) {
    const { done, value } = await reader.read();
    if (done) break;
    chunks.push(value);
    size += value.length;
  }
  await reader.cancel().catch(() => {});
  return Buffer.concat(chunks).subarray(0, max);
}

export function titleOf(html: string): string | null {
  const m = /<title[^>]*>([\s\S]*?)<\/title>/i.exec(html);
  if (!m) return null;
  const t = m[1]!
    .replace(/&amp;/g, "&")
    .replace(/&lt;/g, "<")
    .replace(/&gt;/g, ">")
    .replace(/&quot;/g, '"')
    .replace(/&#39;/g, "'")
    .replace(/\s+/g, " ")
    .trim();
  return t.slice(0, 300) || null;
}

function describe(e: unknown): string {
  const err = e as { name?: string; code?: string; message?: string };
  if (err?.name === "TimeoutError") return "timed out";
  if (err?.code === "ConnectionRefused" || /ECONNREFUSED|refused/i.test(err?.message ?? "")) return "connection refused";
  return (err?.message ?? String(e)).split("\n")[0]!.slice(0, 300);
}
