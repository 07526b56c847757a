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
