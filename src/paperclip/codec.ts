import type { AdapterSessionCodec } from "@paperclipai/adapter-utils";

/**
 * sessionParams round trip. Every JSON value is kept, Paperclip's own `__paperclip*` bookkeeping included: a codec
 * that whitelists drops what Paperclip adds (a migrated cwd, repoUrl, its config fingerprint) and the next wake
 * cannot resume or starts fresh for no reason. No session id, no session: null.
 */
function normalize(raw: unknown): Record<string, unknown> | null {
  if (typeof raw === "string") return raw.trim() ? { sessionId: raw.trim() } : null;
  if (!raw || typeof raw !== "object" || Array.isArray(raw)) return null;
  const src = raw as Record<string, unknown>;
  const id = typeof src.sessionId === "string" ? src.sessionId.trim() : "";
  if (!id) return null;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(src)) {
    if (v === undefined || typeof v === "function" || typeof v === "symbol" || typeof v === "bigint") continue;
    if (typeof v === "number" && !Number.isFinite(v)) continue;
    out[k] = v;
  }
  out.sessionId = id;
  return out;
}

export const sessionCodec: AdapterSessionCodec = {
  deserialize: normalize,
  serialize: normalize,
  getDisplayId: (params) => normalize(params)?.sessionId as string | null ?? null,
};
