import type { RequestShape } from "./dialect.ts";

/**
 * Requests an agent makes that are not part of the turn. A scripted gateway answers these with a fixed text and zero
 * usage, without consuming a step, so a script describes only the turn. The rule is deliberately narrow: a request
 * with tools is never a side request, and each kind is recognised by the agent's own prompt text.
 * - OpenCode asks for a session title with a separate small request: its title prompt as system text and
 *   "Generate a title for this conversation:" as the first user message.
 * - Claude Code can ask for a session title (a system prompt starting "Generate a concise, sentence-case title",
 *   answered as JSON {"title": ...}) and for a label of finished tool calls ("Write a short summary label").
 */
export const SIDE_TITLE = "Scripted session";

export type SideRequestKind = "title" | "json-title" | "tool-summary";

export function sideRequestKind(shape: RequestShape): SideRequestKind | undefined {
  if (shape.hasTools) return undefined;
  if (/you are a title generator/i.test(shape.system)) return "title";
  if (/^\s*generate a title for this conversation/i.test(shape.firstUser)) return "title";
  if (/generate a concise, sentence-case title/i.test(shape.system)) return "json-title";
  if (/write a short summary label describing what these tool calls accomplished/i.test(shape.system)) return "tool-summary";
  return undefined;
}

/** The scripted answer to a side request. */
export function sideAnswer(kind: SideRequestKind): string {
  if (kind === "json-title") return JSON.stringify({ title: SIDE_TITLE });
  if (kind === "tool-summary") return "Ran scripted steps";
  return SIDE_TITLE;
}
