/**
 * The model gateway: the agent's only way to a model. A host-side HTTP server on 127.0.0.1 with a per-run token that
 * speaks Anthropic Messages (`POST /v1/messages`, also with Claude Code's `?beta=true`), OpenAI chat completions
 * (`POST /v1/chat/completions`) and OpenAI Responses (`POST /v1/responses`, Codex's and OpenCode's OpenAI API), each
 * streaming and not; forwards to the real provider with the host's key (which never enters the VM), meters tokens and
 * cost from every response, and maps provider failures to errorCode + family. `HEAD /` answers 200 (Claude Code's
 * reachability check). `--model scripted:FILE` answers from a script instead (same server, no network).
 *
 * Scripted-model rules (beyond the format in docs/gateway.md):
 * - A step without `usage` is metered with a deterministic estimate: input = ceil(request body JSON chars / 4),
 *   output = ceil(answer chars / 4) (text + thinking + tool name + tool input JSON), each at least 1. Give `usage` for
 *   exact numbers.
 * - A request past the last step is answered with HTTP 400 and fails the run: errorCode `script_exhausted` (exit 1),
 *   nothing metered. A script describes the whole turn, ending with a text step. When the step before it was an error
 *   step, that request is the agent retrying the failure, and the run reports the injected failure instead.
 * - Tool steps are written with Pi's tool names and inputs (bash, read, write, edit) and translated into the tool the
 *   agent offers (Claude Code's Bash/Read/Write/Edit, OpenCode's filePath inputs, Codex's shell tools and apply_patch);
 *   the table is in tool-map.ts.
 * - Side requests (OpenCode's session title: no tools, title-generator prompt) get a fixed short text with zero usage
 *   and do not consume a step (side-request.ts).
 * - The scripted model is priced like claude-sonnet-4-5 (prices.ts); provider and biller "scripted", billingType
 *   "unknown" (nothing is billed; costUsd is what the tokens would cost).
 * - Forwarded requests lose the provider's own network tools (web search and fetch, MCP connectors), and one with
 *   content the provider would fetch by URL is refused (400, gateway_provider_network): provider-network.ts.
 * - Error steps answer with the step's status in the dialect's error shape and `x-should-retry: false`, so SDK retries
 *   do not replay them against the next steps (Pi's own auto-retry is a setting: src/agents/pi.ts turns it off).
 */
export type { ErrorFamily, GatewayError, PaperclipErrorFamily } from "./failure.ts";
export type { SentToolResult } from "./dialect.ts";
export { paperclipErrorFamily, readableFailure, retryAfterToIso } from "./failure.ts";
export { type Dialect, type ModelSpec, parseModelSpec, type Provider } from "./model-spec.ts";
export { type ProviderNetworkCheck, withoutProviderNetwork } from "./provider-network.ts";
export { costUsd, type Price, priceFor, priceTable, type TokenCounts } from "./prices.ts";
export { loadScript, parseScript, type Script, scriptJsonSchema, type Step } from "./script.ts";
export { type BillingType, type Gateway, type GatewayOptions, startGateway } from "./server.ts";
export { GatewayHub } from "./hub.ts";
export { SIDE_TITLE } from "./side-request.ts";
export type { UsageDelta, UsageTotals } from "./usage.ts";
