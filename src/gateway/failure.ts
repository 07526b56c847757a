/**
 * Turning an upstream failure (HTTP status, provider error type, message) into the errorCode and family a run reports.
 * Scripted error steps go through the same mapping, so a script can rehearse every failure a provider can produce.
 */
export type ErrorFamily = "auth" | "quota" | "overloaded" | "bad_request" | "upstream";

export interface GatewayError {
  /** upstream_auth, upstream_rate_limited, upstream_quota_exceeded, upstream_overloaded, upstream_bad_request,
   *  upstream_error, upstream_unreachable, gateway_unauthorized, gateway_bad_request, gateway_dialect_mismatch,
   *  gateway_error (the gateway's own fault), script_exhausted (a scripted model asked past its last step) */
  errorCode: string;
  family: ErrorFamily;
  message: string;
  status?: number;
  /** Which side produced it: the provider (or the script playing it), or the gateway itself. */
  source: "upstream" | "scripted" | "gateway";
  /** When the provider said to come back (its Retry-After), as an ISO time. */
  retryNotBefore?: string;
}

/**
 * Paperclip's closed errorFamily vocabulary (AdapterExecutionErrorFamily): it schedules a retry only for
 * transient_upstream and provider_quota. A failure outside it has no family (Paperclip treats it as final).
 */
export type PaperclipErrorFamily = "transient_upstream" | "provider_quota" | "model_refusal";

export function paperclipErrorFamily(err: Pick<GatewayError, "errorCode">): PaperclipErrorFamily | undefined {
  switch (err.errorCode) {
    case "upstream_overloaded":
    case "upstream_rate_limited":
    case "upstream_error":
    case "upstream_unreachable":
      return "transient_upstream";
    case "upstream_quota_exceeded":
      return "provider_quota";
    case "model_refusal":
      return "model_refusal";
    default:
      return undefined;
  }
}

/** A Retry-After header (seconds or an HTTP date) as an ISO time; undefined when absent or unreadable. */
export function retryAfterToIso(value: string | number | null | undefined, now = Date.now()): string | undefined {
  if (value === null || value === undefined || value === "") return undefined;
  const secs = typeof value === "number" ? value : /^\s*\d+(\.\d+)?\s*$/.test(value) ? Number(value) : NaN;
  if (Number.isFinite(secs) && secs >= 0) return new Date(now + secs * 1000).toISOString();
  const at = typeof value === "string" ? Date.parse(value) : NaN;
  return Number.isFinite(at) ? new Date(at).toISOString() : undefined;
}

/** What a person reads in the run's summary: the failure in words, not the provider's raw body. */
export function readableFailure(err: Pick<GatewayError, "errorCode" | "message" | "status">): string {
  const what: Record<string, string> = {
    upstream_overloaded: "the model provider is overloaded",
    upstream_rate_limited: "the model provider rate-limited the request",
    upstream_quota_exceeded: "the model provider's quota or credit is exhausted",
    upstream_auth: "the model provider rejected the credentials",
    upstream_bad_request: "the model provider rejected the request",
    upstream_unreachable: "the model provider could not be reached",
    upstream_error: "the model provider failed",
  };
  const head = what[err.errorCode] ?? "the model request failed";
  return `${head}${err.status ? ` (HTTP ${err.status})` : ""}: ${err.message}`;
}

const QUOTA_TEXT = /insufficient_quota|credit balance|quota|billing/i;

export function classifyFailure(status: number, type: string | undefined, message: string): { errorCode: string; family: ErrorFamily } {
  const t = (type ?? "").toLowerCase();
  if (status === 401 || status === 403 || t.includes("authentication") || t.includes("permission"))
    return { errorCode: "upstream_auth", family: "auth" };
  if (QUOTA_TEXT.test(t) || (QUOTA_TEXT.test(message) && (status === 429 || status === 400 || status === 402)))
    return { errorCode: "upstream_quota_exceeded", family: "quota" };
  if (status === 429 || t.includes("rate_limit")) return { errorCode: "upstream_rate_limited", family: "quota" };
  if (status === 529 || status === 503 || t.includes("overloaded")) return { errorCode: "upstream_overloaded", family: "overloaded" };
  if (status >= 400 && status < 500) return { errorCode: "upstream_bad_request", family: "bad_request" };
  return { errorCode: "upstream_error", family: "upstream" };
}
