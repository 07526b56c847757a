import { toJsonSchema } from "@valibot/to-json-schema";
import { RunEventSchema } from "./events.ts";

export * from "./events.ts";

/** JSON Schema of one NDJSON line of `run` output, for adapters written in other languages. */
export function runEventJsonSchema(): object {
  return toJsonSchema(RunEventSchema, { errorMode: "ignore" });
}
