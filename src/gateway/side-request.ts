import type { RequestShape } from "./dialect.ts";

/**
 * Requests an agent makes that are not part of the turn. OpenCode asks for a session title with a separate small
 * request: no tools, its title prompt as system text and "Generate a title for this conversation:" as the first user
 * message. A scripted gateway answers these with SIDE_TITLE and zero usage, without consuming a step, so a script
 * describes only the turn. The rule is deliberately narrow: a request with tools is never a side request.
 */
export const SIDE_TITLE = "Scripted session";

export function sideRequestKind(shape: RequestShape): "title" | undefined {
  if (shape.hasTools) return undefined;
  if (/you are a title generator/i.test(shape.system)) return "title";
  if (/^\s*generate a title for this conversation/i.test(shape.firstUser)) return "title";
  return undefined;
}
