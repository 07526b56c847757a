import { describe, expect, test } from "bun:test";
import * as v from "valibot";
import { RunEventSchema, runEventJsonSchema } from "../../src/protocol/index.ts";
import { resultEvent, stopOutcome } from "../../src/heartbeat/index.ts";

describe("the run protocol", () => {
  test("the JSON Schema offers exactly the eleven event kinds, each closed to unknown fields", () => {
    const schema = runEventJsonSchema() as { oneOf: { properties: { type: { const: string } }; additionalProperties?: boolean }[] };
    expect(schema.oneOf.map((s) => s.properties.type.const).sort()).toEqual(
      ["assistant", "init", "permission", "result", "service", "system", "thinking", "tool_call", "tool_result", "usage", "workspace_change"],
    );
    for (const kind of schema.oneOf) expect(kind.additionalProperties).toBe(false);
  });

  test("a result built from defaults, and the fallback written when a stop overruns its grace, are valid results", () => {
    for (const fields of [{ subtype: "success" as const, exitCode: 0 }, stopOutcome("SIGTERM"), stopOutcome("timeout", 5), stopOutcome("parent_died")]) {
      const e = { ...resultEvent(fields), ts: new Date().toISOString(), seq: 1 };
      expect(v.safeParse(RunEventSchema, e).success).toBe(true);
    }
    expect(stopOutcome("SIGINT")).toMatchObject({ exitCode: 130, signal: "SIGINT", subtype: "cancelled" });
    expect(stopOutcome("timeout", 5)).toMatchObject({ exitCode: 124, timedOut: true });
  });

  test("an event with a field the protocol does not have is rejected", () => {
    const e = { type: "system", text: "x", ts: "t", seq: 1, extra: true };
    expect(v.safeParse(RunEventSchema, e).success).toBe(false);
  });
});
