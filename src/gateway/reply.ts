import type { TokenCounts } from "./prices.ts";

/** One scripted answer, dialect-neutral; anthropic.ts and openai.ts render it. */
export interface Reply {
  id: string;
  model: string;
  thinking?: string;
  text?: string;
  /** `format` is how the Responses dialect renders the call (tool-map.ts decides it): a function call with JSON
   *  arguments (default), a custom tool call whose free-text input is `input.input`, or a local_shell_call whose argv
   *  is `input.command`. The other dialects have function calls only. */
  tool?: { id: string; name: string; input: Record<string, unknown>; format?: "function" | "custom" | "local_shell" };
  usage: TokenCounts;
}

/** Text in up to three pieces cut at spaces, so streaming clients see real deltas. */
export function chunks(text: string, parts = 3): string[] {
  if (text.length < 12) return [text];
  const out: string[] = [];
  let rest = text;
  for (let i = parts; i > 1 && rest.length > 0; i--) {
    const target = Math.ceil(rest.length / i);
    let cut = rest.indexOf(" ", target);
    if (cut < 0 || cut >= rest.length - 1) break;
    cut += 1;
    out.push(rest.slice(0, cut));
    rest = rest.slice(cut);
  }
  out.push(rest);
  return out.filter((c) => c.length > 0);
}

/** Tool input JSON in two halves (the second may be empty), so streaming clients must join partial JSON. */
export function halves(s: string): [string, string] {
  const half = Math.ceil(s.length / 2);
  return [s.slice(0, half), s.slice(half)];
}

export function sseEvent(event: string | undefined, data: unknown): string {
  return `${event ? `event: ${event}\n` : ""}data: ${typeof data === "string" ? data : JSON.stringify(data)}\n\n`;
}

export function num(x: unknown): number {
  return typeof x === "number" && Number.isFinite(x) ? x : 0;
}

export function isRecord(x: unknown): x is Record<string, unknown> {
  return typeof x === "object" && x !== null && !Array.isArray(x);
}

/** Concatenated text of a message content that is a string or a list of {type:"text",text} blocks. */
export function contentText(content: unknown): string {
  if (typeof content === "string") return content;
  if (!Array.isArray(content)) return "";
  return content
    .map((b) => (isRecord(b) && typeof b.text === "string" ? b.text : ""))
    .filter(Boolean)
    .join("\n");
}
