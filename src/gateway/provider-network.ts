import type { Dialect } from "./model-spec.ts";
import { isRecord } from "./reply.ts";

/**
 * What a model request may not ask of the provider: to reach the network itself. Anthropic's server tools (web search,
 * web fetch, the MCP connector's `mcp_servers` and `mcp_toolset`), OpenAI's hosted `web_search*` and `mcp` tools and
 * chat's `web_search_options`, and content the provider fetches by URL (an image or document source of type `url`, an
 * `image_url`/`file_url` that is http(s)) all make the provider's servers open a URL the agent chose, with text the
 * agent chose: a way past the VM's network policy (the gateway is open to every VM, whatever it grants) to any host.
 * The tools are taken out of the request (Codex offers `web_search` in every request: its turns go on without it);
 * content by URL is refused, since no agent sends it of its own accord and dropping it would change the conversation.
 */
export interface ProviderNetworkCheck {
  body: Record<string, unknown>;
  /** The tools or fields taken out, as `tools[].type=web_search` / `mcp_servers`. */
  removed: string[];
  /** Why the request is refused (content the provider would fetch by URL), or undefined. */
  refused?: string;
}

const ANTHROPIC_NETWORK_TOOL = /^(web_search|web_fetch)(_\d+)?$|^mcp_toolset$/;
const OPENAI_NETWORK_TOOL = /^(web_search|web_search_preview)(_\d{4}_\d\d_\d\d)?$|^mcp$/;
const TOP_LEVEL: Record<Dialect, string[]> = { anthropic: ["mcp_servers"], openai: ["web_search_options"], responses: [] };

export function withoutProviderNetwork(dialect: Dialect, body: Record<string, unknown>): ProviderNetworkCheck {
  const removed: string[] = [];
  let out = body;
  for (const field of TOP_LEVEL[dialect]) {
    if (field in out) {
      out = { ...out };
      delete out[field];
      removed.push(field);
    }
  }
  if (Array.isArray(out.tools)) {
    const networked = dialect === "anthropic" ? ANTHROPIC_NETWORK_TOOL : OPENAI_NETWORK_TOOL;
    const kept = out.tools.filter((t) => !(isRecord(t) && typeof t.type === "string" && networked.test(t.type)));
    if (kept.length !== out.tools.length) {
      for (const t of out.tools) if (!kept.includes(t)) removed.push(`tools[].type=${(t as { type: string }).type}`);
      out = { ...out, tools: kept };
    }
  }
  const url = fetchedUrl(dialect === "anthropic" ? out.messages : dialect === "openai" ? out.messages : out.input);
  return { body: out, removed, ...(url ? { refused: `the request asks the provider to fetch ${url}, a URL the agent chose (send the content itself, as base64 data)` } : {}) };
}

/** The first URL the provider would open for content anywhere in these messages (nested tool results included). */
function fetchedUrl(value: unknown, depth = 0): string | undefined {
  if (depth > 12) return undefined;
  if (Array.isArray(value)) {
    for (const v of value) {
      const u = fetchedUrl(v, depth + 1);
      if (u) return u;
    }
    return undefined;
  }
  if (!isRecord(value)) return undefined;
  // Anthropic: {type: "image" | "document", source: {type: "url", url}}.
  if (isRecord(value.source) && value.source.type === "url" && typeof value.source.url === "string") return value.source.url;
  // OpenAI chat: {type: "image_url", image_url: {url}}; Responses: {type: "input_image", image_url}, {type: "input_file", file_url}.
  for (const field of ["image_url", "file_url"]) {
    const v = value[field];
    const u = typeof v === "string" ? v : isRecord(v) && typeof v.url === "string" ? v.url : undefined;
    if (u && /^https?:/i.test(u.trim())) return u;
  }
  for (const [k, v] of Object.entries(value)) {
    if (k === "text" || k === "data") continue;
    if (typeof v === "object" && v !== null) {
      const u = fetchedUrl(v, depth + 1);
      if (u) return u;
    }
  }
  return undefined;
}
