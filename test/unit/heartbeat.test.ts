import { describe, expect, test } from "bun:test";
import { buildRunRequest, findDenials, fitLine, MAX_LINE_BYTES, parseRunRequest } from "../../src/heartbeat/index.ts";
import { decideSession } from "../../src/heartbeat/sessions.ts";
import { isAosError } from "../../src/errors.ts";

const stored = {
  sessionId: "s-1",
  agent: "pi" as const,
  agentId: "a",
  taskKey: "t",
  cwd: "/w",
  createdAt: "",
  updatedAt: "",
  runs: 1,
  lastRunId: "r",
};
// session undefined: the request names none (the stored one may resume); null is Paperclip resetting it.
const req = { wakeReason: null, session: undefined, cwd: "/w", agent: "pi" as const };

describe("fresh or resume", () => {
  test("the stored session resumes in the same cwd, with or without the request's sessionParams", () => {
    expect(decideSession(req, stored, true)).toEqual({ resume: "s-1" });
    expect(decideSession({ ...req, session: { sessionId: "s-1", cwd: "/w" } }, stored, true)).toEqual({ resume: "s-1" });
  });
  test("no session at all starts fresh without a note", () => {
    expect(decideSession(req, null, false)).toEqual({});
    expect(decideSession({ ...req, session: null }, null, false)).toEqual({});
  });
  test("session null (Paperclip's reset) starts fresh even with a resumable stored session, and says so", () => {
    expect(decideSession({ ...req, session: null }, stored, true)).toEqual({ note: "the request's session is null: starting a fresh session" });
  });
  test("a reset wake reason, another cwd, another agent, an unknown id or an unresumable store start fresh and say why", () => {
    expect(decideSession({ ...req, wakeReason: "issue_assigned" }, stored, true).note).toContain("issue_assigned");
    expect(decideSession({ ...req, wakeReason: "timer" }, stored, true)).toEqual({ resume: "s-1" });
    expect(decideSession({ ...req, cwd: "/other" }, stored, true).note).toContain("belongs to /w");
    expect(decideSession({ ...req, agent: "opencode" }, stored, true).note).toContain("pi session");
    expect(decideSession({ ...req, session: { sessionId: "s-9" } }, stored, true).note).toContain("s-9 was not found");
    expect(decideSession(req, stored, false).note).toContain("not found");
  });
});

describe("NDJSON lines", () => {
  test("a short event is one line as is", () => {
    expect(fitLine({ type: "system", text: "hi" })).toBe('{"type":"system","text":"hi"}\n');
  });
  test("a long event is cut below the limit with a marker, keeping the other fields", () => {
    const line = fitLine({ type: "tool_result", toolUseId: "x", content: "a".repeat(50_000), input: { command: "b".repeat(9000) } });
    // The protocol's limit as written in DESIGN/README (8 KB), not the constant: raising the constant must fail this.
    expect(Buffer.byteLength(line)).toBeLessThanOrEqual(8192);
    const e = JSON.parse(line);
    expect(e.toolUseId).toBe("x");
    expect(e.content).toMatch(/…\[truncated \d+ bytes\]$/);
  });
  test("multi-byte text is counted in bytes, not characters", () => {
    const line = fitLine({ type: "assistant", text: "é".repeat(10_000) });
    expect(Buffer.byteLength(line)).toBeLessThanOrEqual(8192);
    expect(JSON.parse(line).text).toContain("truncated");
  });
});

describe("kernel denials in tool output", () => {
  test("each way the kernel says no becomes a capability and a target", () => {
    const cases: [string, string, string][] = [
      ["error: failed to redirect to /etc/x: Permission denied (os error 2)", "fs.write", "/etc/x"],
      ["EACCES: permission denied, open '/workspace/.env'", "fs.write", "/workspace/.env"],
      ["EACCES: permission denied, scandir '/root'", "fs.read", "/root"],
      // Pi's write tool: its mkdir of the parent is refused, the path before the policy's words.
      ["EACCES: EACCES: permission denied, mkdir '/workspace/.git/hooks': blocked by fs.create_dir policy", "fs.write", "/workspace/.git/hooks"],
      ["EACCES: permission denied, open '/workspace/.env': blocked by fs.read policy", "fs.read", "/workspace/.env"],
      ["blocked by hostFunction.invoke policy for paperclip:git-log", "tool.invoke", "git.log"],
      ["EACCES: permission denied, spawn 'wasm': blocked by child_process.spawn policy", "process.spawn", "wasm"],
      ["connect EACCES: blocked outbound network access to tcp://127.0.0.1:4000: loopback", "network.fetch", "tcp://127.0.0.1:4000"],
    ];
    for (const [text, capability, target] of cases) expect(findDenials(text)).toEqual([{ capability, target, reason: text }]);
  });
  test("ordinary failures are not denials, and one denial is reported once", () => {
    expect(findDenials("AssertionError: -1 !== 5\nCommand exited with code 1")).toEqual([]);
    expect(findDenials("error: failed to redirect to /a: Permission denied\nerror: failed to redirect to /a: Permission denied")).toHaveLength(1);
  });
});

describe("run requests", () => {
  const fail = (json: unknown) => {
    try {
      parseRunRequest(json, "stdin");
    } catch (e) {
      if (isAosError(e)) return { message: e.message, hint: e.hint, exit: e.exitCode };
      throw e;
    }
    return null;
  };
  test("a field of the wrong type names its path; an unknown one suggests the right name", () => {
    expect(fail({ prompt: "x", timeoutSec: "soon" })?.message).toContain("timeoutSec");
    expect(fail({ prompt: "x", session: { sessionId: "" } })?.message).toContain("session.sessionId");
    expect(fail({ promt: "x" })).toMatchObject({ message: "stdin: unknown field 'promt'", hint: "did you mean 'prompt'?", exit: 2 });
  });
  test("flags, then JSON, then Paperclip's environment, then the config's defaults fill the request in that order", () => {
    const env = { PAPERCLIP_RUN_ID: "run-env", PAPERCLIP_TASK_ID: "PAP-1", PAPERCLIP_WORKSPACE_CWD: "/ws", PAPERCLIP_AGENT_ID: "agent-7" };
    const json = parseRunRequest({ prompt: "from json", taskKey: "json-task", graceSec: 3 }, "stdin");
    const r = buildRunRequest(json, { prompt: "from flags", model: "scripted:/s.json" }, env, "/cwd", { model: "openai/x", timeoutSec: 9, graceSec: 4 });
    expect(r).toMatchObject({ prompt: "from flags", taskKey: "json-task", model: "scripted:/s.json", runId: "run-env", cwd: "/ws", agentId: "agent-7", agent: "pi", graceSec: 3, timeoutSec: 9 });
    expect(buildRunRequest(json, {}, { PAPERCLIP_AOS_MODEL: "anthropic/env" }, "/cwd", { model: "openai/x" }).model).toBe("anthropic/env");
    expect(buildRunRequest(json, {}, {}, "/cwd", { model: "openai/x", agent: "opencode" })).toMatchObject({ model: "openai/x", agent: "opencode" });
  });
  test("no prompt anywhere is a usage error with a hint", () => {
    expect(() => buildRunRequest(undefined, {}, {}, "/cwd")).toThrow("no prompt given");
  });
});
