/**
 * Per-million-token prices in USD. Checked against Anthropic's and OpenAI's pricing pages and the cost table that
 * pi-ai 0.60.0 ships (the model list Pi itself uses). `cacheWrite` is Anthropic's 5-minute cache write (1.25x input);
 * OpenAI has no cache-write charge.
 *
 * The scripted model is priced like claude-sonnet-4-5, the usual default, so that a scripted run reports the cost the
 * same token counts would have had on a real model, and cost tests check real arithmetic rather than zeros.
 */
export interface Price {
  input: number;
  output: number;
  cached: number;
  cacheWrite: number;
}

const sonnet: Price = { input: 3, output: 15, cached: 0.3, cacheWrite: 3.75 };
const opus4: Price = { input: 15, output: 75, cached: 1.5, cacheWrite: 18.75 };
const opus45: Price = { input: 5, output: 25, cached: 0.5, cacheWrite: 6.25 };
const haiku45: Price = { input: 1, output: 5, cached: 0.1, cacheWrite: 1.25 };
const haiku35: Price = { input: 0.8, output: 4, cached: 0.08, cacheWrite: 1 };

export const SCRIPTED_PRICE_ALIAS = "claude-sonnet-4-5";

export const priceTable: Readonly<Record<string, Price>> = Object.freeze({
  scripted: sonnet,
  // Anthropic
  "claude-opus-4-6": opus45,
  "claude-opus-4-5": opus45,
  "claude-opus-4-1": opus4,
  "claude-opus-4-0": opus4,
  "claude-opus-4": opus4,
  "claude-sonnet-4-6": sonnet,
  "claude-sonnet-4-5": sonnet,
  "claude-sonnet-4-0": sonnet,
  "claude-sonnet-4": sonnet,
  "claude-3-7-sonnet": sonnet,
  "claude-3-5-sonnet": sonnet,
  "claude-haiku-4-5": haiku45,
  "claude-3-5-haiku": haiku35,
  "claude-3-haiku": { input: 0.25, output: 1.25, cached: 0.03, cacheWrite: 0.3 },
  "claude-3-opus": opus4,
  // OpenAI
  "gpt-5.4": { input: 2.5, output: 15, cached: 0.25, cacheWrite: 0 },
  "gpt-5.4-mini": { input: 0.75, output: 4.5, cached: 0.075, cacheWrite: 0 },
  "gpt-5.2": { input: 1.75, output: 14, cached: 0.175, cacheWrite: 0 },
  "gpt-5.1": { input: 1.25, output: 10, cached: 0.125, cacheWrite: 0 },
  "gpt-5": { input: 1.25, output: 10, cached: 0.125, cacheWrite: 0 },
  "gpt-5-mini": { input: 0.25, output: 2, cached: 0.025, cacheWrite: 0 },
  "gpt-5-nano": { input: 0.05, output: 0.4, cached: 0.005, cacheWrite: 0 },
  "gpt-4.1": { input: 2, output: 8, cached: 0.5, cacheWrite: 0 },
  "gpt-4.1-mini": { input: 0.4, output: 1.6, cached: 0.1, cacheWrite: 0 },
  "gpt-4.1-nano": { input: 0.1, output: 0.4, cached: 0.025, cacheWrite: 0 },
  "gpt-4o": { input: 2.5, output: 10, cached: 1.25, cacheWrite: 0 },
  // The first gpt-4o snapshot kept its launch price (and has no prompt caching); the dated-variant rule would miss it.
  "gpt-4o-2024-05-13": { input: 5, output: 15, cached: 0, cacheWrite: 0 },
  "gpt-4o-mini": { input: 0.15, output: 0.6, cached: 0.075, cacheWrite: 0 },
  o3: { input: 2, output: 8, cached: 0.5, cacheWrite: 0 },
  "o3-mini": { input: 1.1, output: 4.4, cached: 0.55, cacheWrite: 0 },
  "o4-mini": { input: 1.1, output: 4.4, cached: 0.275, cacheWrite: 0 },
});

/** A dated or `-latest` variant prices like its base id; anything else must match exactly (so claude-opus-4-7 is not priced as claude-opus-4). */
const VARIANT_SUFFIX = /^-(\d{8}|\d{4}-\d{2}-\d{2}|latest)$/;

/** The price entry for a model id (provider prefix allowed: "anthropic/claude-sonnet-4-5"), or undefined. */
export function priceFor(model: string): Price | undefined {
  const id = model.includes("/") ? model.slice(model.lastIndexOf("/") + 1) : model;
  const exact = priceTable[id];
  if (exact) return exact;
  let best: string | undefined;
  for (const key of Object.keys(priceTable)) {
    if (id.startsWith(key) && VARIANT_SUFFIX.test(id.slice(key.length)) && (!best || key.length > best.length)) best = key;
  }
  return best ? priceTable[best] : undefined;
}

export interface TokenCounts {
  /** Input tokens not served from cache (Anthropic input_tokens + cache_creation_input_tokens; OpenAI prompt minus cached). */
  inputTokens: number;
  outputTokens: number;
  cachedInputTokens: number;
  /** The part of inputTokens that was written to Anthropic's prompt cache (billed at the cache-write price). */
  cacheWriteTokens?: number;
}

/** Cost in USD of one response's tokens; 0 for a model the table does not know (the gateway adds a note saying so). */
export function costUsd(model: string, usage: TokenCounts): number {
  const p = priceFor(model);
  if (!p) return 0;
  const write = Math.min(usage.cacheWriteTokens ?? 0, usage.inputTokens);
  const plain = usage.inputTokens - write;
  return (plain * p.input + write * p.cacheWrite + usage.cachedInputTokens * p.cached + usage.outputTokens * p.output) / 1e6;
}
