/**
 * Turning an upstream failure (HTTP status, provider error type, message) into the errorCode and family a run reports.
 * Scripted error steps go through the same mapping, so a script can rehearse every failure a provider can produce.
 */
export type ErrorFamily = "auth" | "quota" | "overloaded" | "bad_request" | "upstream";

export interface GatewayError {
  /** upstream_auth, upstream_rate_limited, upstream_quota_exceeded, upstream_overloaded, upstream_bad_request,
   *  upstream_error, upstream_unreachable, gateway_unauthorized, gateway_bad_request */
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

/** Anthropic's error type names by status (https://docs.anthropic.com/en/api/errors). */
export function anthropicErrorType(status: number): string {
  switch (status) {
    case 400:
      return "invalid_request_error";
    case 401:
      return "authentication_error";
    case 402:
      return "billing_error";
    case 403:
      return "permission_error";
    case 404:
      return "not_found_error";
    case 413:
      return "request_too_large";
    case 429:
      return "rate_limit_error";
    case 503:
    case 529:
      return "overloaded_error";
    default:
      return status >= 500 ? "api_error" : "invalid_request_error";
  }
}

/** OpenAI's error type names by status. */
export function openaiErrorType(status: number): string {
  if (status === 401) return "authentication_error";
  if (status === 403) return "permission_error";
  if (status === 404) return "not_found_error";
  if (status === 429) return "rate_limit_exceeded";
  if (status >= 500) return "server_error";
  return "invalid_request_error";
}
