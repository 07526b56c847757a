/**
 * True for a token that is written like a flag (`-q`, `--json`, `--allow-read=x`), not like a value (`-1`, `--x y`).
 * A file without imports: the `tool invoke` fast path (commands/_fast.ts) reads argv with it and nothing else of caps.
 */
export function looksLikeFlag(token: string): boolean {
  return /^--?[A-Za-z][A-Za-z0-9-]*(=|$)/.test(token);
}
