import { afterAll, describe, expect, test } from "bun:test";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { removeTempDirs, scriptedRun, tempDir } from "./helpers.ts";

/**
 * What Paperclip sees when an agent's model call fails or the VM refuses what it tried, per agent, through the
 * compiled binary, a real VM and the scripted model: the failure the script injected, in Paperclip's error family and
 * in words; the refusal as a permission event.
 */
// Every temp dir comes from helpers.tempDir, which tracks it; this file removes them when it is done.
afterAll(removeTempDirs);

const OVERLOADED = [{ error: { status: 529, message: "Overloaded" } }];

/** A heartbeat of `agent` on the scripted model; `answered` is how the gateway answered each model request, in order. */
async function failedRun(agent: string, steps: unknown[], args: string[] = [], files: Record<string, string> = {}) {
  const [ws, home, scratch] = [await tempDir("aos-af-ws-"), await tempDir("aos-af-home-"), await tempDir("aos-af-record-")];
  for (const [name, content] of Object.entries(files)) await Bun.write(join(ws, name), content);
  const record = join(scratch, "record.ndjson");
  const r = await scriptedRun({ steps, ws, home, args: ["--agent", agent, "--record", record, ...args], timeoutMs: 170_000 });
  // A run in which no request reached the gateway has no record file: say what the run did instead (its result and
  // the end of its stderr, where --debug puts the sidecar's and the agent's own lines), not only ENOENT.
  const text = await readFile(record, "utf8").catch(() => {
    throw new Error(`no model request reached the gateway in ${agent}'s run (exit ${r.code}); its last event: ${JSON.stringify(r.evs.at(-1))}; its stderr ends:\n${r.stderr.slice(-4000)}`);
  });
  const answered = text.split("\n").filter(Boolean).map((l) => JSON.parse(l).answeredBy as string);
  return { code: r.code, stderr: r.stderr, evs: r.evs, result: r.evs.at(-1)!, answered };
}

describe.each([["opencode"], ["claude"]])("an overloaded model on --agent %s, which retries it", (agent) => {
  test("the run reports the injected upstream_overloaded, not the script running out under the retry", async () => {
    const r = await failedRun(agent, OVERLOADED, ["--debug"]);
    // The agent did retry: its second request found no step left.
    expect(r.answered.filter((a) => a !== "side")).toEqual(["step", "exhausted"]);
    expect(r.code).toBe(1);
    expect(r.result).toMatchObject({
      type: "result",
      exitCode: 1,
      errorCode: "upstream_overloaded",
      errorFamily: "transient_upstream",
      errorMessage: "the model provider is overloaded (HTTP 529): Overloaded",
      summary: "the model provider is overloaded (HTTP 529): Overloaded",
    });
  }, 180_000);
});

describe("an overloaded model on --agent codex, which fails the prompt with its own error text", () => {
  test("the run reports upstream_overloaded in the other agents' words; Codex's text reaches --debug as one readable line", async () => {
    const r = await failedRun("codex", OVERLOADED, ["--debug"]);
    expect(r.code).toBe(1);
    expect(r.result).toMatchObject({
      exitCode: 1,
      errorCode: "upstream_overloaded",
      errorFamily: "transient_upstream",
      errorMessage: "the model provider is overloaded (HTTP 529): Overloaded",
      summary: "the model provider is overloaded (HTTP 529): Overloaded",
    });
    expect(r.evs.filter((e) => e.type === "system" && e.code === "model_error").map((e) => e.text)).toEqual(["the model provider is overloaded (HTTP 529): Overloaded"]);
    // Codex's ErrorEvent debug string is cut down to its message by the bridge.
    const own = r.stderr.split("\n").find((l) => l.includes("the agent failed the prompt"));
    expect(own).toContain("codex: unexpected status 529");
    expect(own).not.toContain("ErrorEvent");
    expect(own).not.toContain("codex_error_info");
    expect(JSON.stringify(r.evs)).not.toContain("ErrorEvent");
  }, 180_000);
});

/**
 * Claude Code's and Codex's tool events carry no output, so their refusals are read from the tool results they send
 * the model: Claude Code's Read tool's refusal, Codex's shell output with the shell's own refusal (Claude Code's Bash
 * result holds the shell's refusal too: test/e2e/claude-bash.test.ts).
 */
describe.each([
  ["claude", { tool: "read", input: { path: "/workspace/.env" } }, "fs.read", "/workspace/.env"],
  ["codex", { tool: "bash", input: { command: "echo x > /etc/forbidden.txt" } }, "fs.write", "/etc/forbidden.txt"],
] as const)("a kernel denial on --agent %s", (agent, step, capability, target) => {
  test("the agent tries a denied path, the VM refuses, and a permission event names it for that tool call", async () => {
    const r = await failedRun(agent, [step, { text: "could not" }], [], { ".env": "SECRET_VALUE=do-not-read\n" });
    expect(r.code).toBe(0);
    const call = r.evs.find((e) => e.type === "tool_call")!;
    expect(r.evs.filter((e) => e.type === "permission")).toEqual([expect.objectContaining({ decision: "deny", capability, target, toolUseId: call.toolUseId })]);
    expect(r.evs.findIndex((e) => e.type === "permission")).toBeGreaterThan(r.evs.indexOf(call));
    expect(JSON.stringify(r.evs)).not.toContain("do-not-read");
  }, 180_000);
});
