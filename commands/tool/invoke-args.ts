import type { ArgsDef } from "citty";
import { globalArgs } from "../_globals.ts";

/** `tool invoke`'s flags: read by the one parse (through invoke.ts) and by the fast path (commands/_fast.ts). */
export const invokeArgs = {
  name: { type: "positional", required: true, valueHint: "NAME", description: "The tool, e.g. git.status" },
  input: { type: "string", valueHint: "JSON|-", description: "The tool's input as JSON, or - to read it from stdin (default {})" },
  "run-id": { type: "string", valueHint: "ID", description: "Act for this run: workspace.diff compares with its baseline, artifacts go to its store" },
  ...globalArgs,
} as const satisfies ArgsDef;
