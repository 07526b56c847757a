import type { ArgsDef } from "citty";

/** Flags every command takes (they show in each command's --help). Apart from _shared.ts for the fast path (_fast.ts). */
export const globalArgs = {
  json: { type: "boolean", description: "Print one JSON document on stdout instead of text" },
  quiet: { type: "boolean", alias: "q", description: "Only print errors on stderr" },
  debug: { type: "boolean", description: "Show the runtime's own logs and stack traces on stderr" },
  "log-level": { type: "string", valueHint: "silent|error|warn|info|debug", description: "How much to print on stderr (default info)" },
  cwd: { type: "string", valueHint: "DIR", description: "Run as if started in DIR (for exec and run: the workspace)" },
} as const satisfies ArgsDef;

