import { afterAll, describe, expect, test } from "bun:test";
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { costUsd, startGateway } from "../../src/gateway/index.ts";
import { AGENTS, type AgentId } from "../../src/agents/index.ts";
import { filesUnder, removeTempDirs, runBin, tempDir } from "./helpers.ts";

/**
 * Every agent through the compiled binary, a real VM and the real gateway on the scripted model: a tool step writes
 * in /workspace, the instructions reach the model, usage and cost are the script's, the provider key never enters
 * the VM or the state dir, and a second heartbeat resumes with the first turn in the model's request.
 */
const KEY = "sk-ant-agents-test-KEY-0123456789";

// Every temp dir comes from helpers.tempDir, which tracks it; this file removes them when it is done.
afterAll(removeTempDirs);

async function heartbeat(agent: AgentId, o: { ws: string; home: string; steps: unknown[]; prompt: string; args?: string[]; env?: Record<string, string> }) {
  const scratch = await tempDir("aos-agents-script-");
  const script = join(scratch, "script.json");
  await writeFile(script, JSON.stringify({ steps: o.steps }));
  const record = join(scratch, "record.ndjson");
  const r = await runBin(["run", "--agent", agent, "--cwd", o.ws, "--model", `scripted:${script}`, "--record", record, "--prompt", o.prompt, "--task-key", "T-1", ...(o.args ?? [])], {
    env: { PAPERCLIP_AOS_HOME: o.home, ANTHROPIC_API_KEY: KEY, OPENAI_API_KEY: KEY, ...o.env },
    timeoutMs: 170_000,
  });
  const evs = r.stdout.split("\n").filter(Boolean).map((l) => JSON.parse(l));
  return { ...r, evs, result: evs.at(-1), recorded: await readFile(record, "utf8").catch(() => "") };
}

describe.each(AGENTS.map((a) => [a]))("run --agent %s", (agent) => {
  test("a tool step writes in /workspace, instructions reach the model, usage and cost are the script's, the key stays out; the next heartbeat resumes", async () => {
    const ws = await tempDir("aos-agents-ws-");
    const home = await tempDir("aos-agents-home-");
    const first = await heartbeat(agent, {
      ws,
      home,
      prompt: "write the file and remember the word PAPAYA",
      steps: [
        // Written in the script's (Pi's) tool vocabulary: the scripted model speaks each agent's own shell tool.
        { tool: "bash", input: { command: `echo made-by-${agent} > /workspace/made.txt; (echo guest-env:; env) > /workspace/env.txt` }, usage: { input: 1200, output: 40 } },
        { text: "Done: made.txt is written.", usage: { input: 1500, output: 25, cached: 300 } },
      ],
    });
    // (the result's error fields show in the failure message)
    expect({ code: first.code, errorCode: first.result?.errorCode, errorMessage: first.result?.errorMessage }).toEqual({ code: 0, errorCode: null, errorMessage: null });
    expect(first.result).toMatchObject({ type: "result", subtype: "success", sessionParams: { agent } });
    expect(await readFile(join(ws, "made.txt"), "utf8")).toBe(`made-by-${agent}\n`);
    expect(first.evs.some((e) => e.type === "tool_call")).toBe(true);
    // Paperclip's instructions were in what the model was sent.
    expect(first.recorded).toContain("You are working for Paperclip inside an agentOS VM");
    expect(first.result.usage).toEqual({ inputTokens: 2700, outputTokens: 65, cachedInputTokens: 300 });
    // The scripted model bills nothing; what its tokens would cost is the notional cost.
    expect(first.result.costUsd).toBe(0);
    expect(first.result.notionalCostUsd).toBeCloseTo(costUsd("scripted", { inputTokens: 2700, outputTokens: 65, cachedInputTokens: 300 }), 6);
    // The provider key stays with the gateway: not in the agent's environment, the stream, or the state dir.
    const guestEnv = await readFile(join(ws, "env.txt"), "utf8");
    expect(guestEnv).toStartWith("guest-env:");
    expect(guestEnv).not.toContain(KEY);
    expect(first.stdout + first.stderr + first.recorded).not.toContain(KEY);
    for (const f of await filesUnder(home)) expect((await readFile(f)).includes(KEY)).toBe(false);

    const second = await heartbeat(agent, { ws, home, prompt: "what was the word?", steps: [{ text: "It was PAPAYA." }] });
    expect({ code: second.code, errorCode: second.result?.errorCode, errorMessage: second.result?.errorMessage }).toEqual({ code: 0, errorCode: null, errorMessage: null });
    expect(second.evs[0]).toMatchObject({ type: "init", resumed: true, sessionId: first.result.sessionParams.sessionId });
    expect(second.evs[0].resumeMode).not.toBe("fresh");
    // The first turn is in the resumed request: its prompt and the answer.
    expect(second.recorded).toContain("remember the word PAPAYA");
    expect(second.recorded).toContain("Done: made.txt is written.");
  });
});

describe("agents: OpenCode with an openai/ model", () => {
  test("goes through the gateway's Responses API to the provider; the host key reaches only the upstream", async () => {
    // The provider is another gateway on the scripted model, accepting only KEY.
    const upstream = await startGateway({
      model: "scripted",
      token: KEY,
      script: { steps: [{ tool: "bash", input: { command: "echo via-openai > /workspace/made.txt" } }, { text: "done", usage: { input: 10, output: 5 } }] } as never,
    });
    try {
      const ws = await tempDir("aos-agents-ws-");
      const home = await tempDir("aos-agents-home-");
      const r = await runBin(["run", "--agent", "opencode", "--cwd", ws, "--model", "openai/gpt-4.1", "--prompt", "make the file"], {
        env: { PAPERCLIP_AOS_HOME: home, OPENAI_API_KEY: KEY, OPENAI_BASE_URL: upstream.url },
        timeoutMs: 170_000,
      });
      const result = JSON.parse(r.stdout.trim().split("\n").at(-1) || "{}");
      // (the result's error fields and stderr show in the failure message)
      expect({ code: r.code, errorMessage: result.errorMessage ?? null, stderr: r.code ? r.stderr.slice(-500) : "" }).toEqual({ code: 0, errorMessage: null, stderr: "" });
      expect(result).toMatchObject({ subtype: "success", provider: "openai", model: "gpt-4.1" });
      expect(await readFile(join(ws, "made.txt"), "utf8")).toBe("via-openai\n");
      expect(upstream.requests()).toBeGreaterThanOrEqual(2);
      expect(r.stdout + r.stderr).not.toContain(KEY);
      for (const f of await filesUnder(home)) expect((await readFile(f)).includes(KEY)).toBe(false);
    } finally {
      await upstream.close();
    }
  });
});

describe("agents: model check", () => {
  test("a model the agent cannot use is exit 2 before anything boots", async () => {
    const r = await runBin(["run", "--agent", "claude", "--model", "openai/gpt-4.1", "--prompt", "x"]);
    expect(r.code).toBe(2);
    const result = JSON.parse(r.stdout.trim().split("\n").at(-1)!);
    expect(result).toMatchObject({ subtype: "config_invalid", errorCode: "unsupported_model" });
    expect(r.stdout).not.toContain('"type":"init"');
  });
});

/**
 * Codex's commands go through our shell relay (src/agents/codex-acp/): codex-exec is WASM, and a program started
 * under a WASM process cannot start one in agentOS 0.2.21, so without the relay `ls` hangs and returns nothing. What
 * the model is sent back is what bash gives: the programs' output, stderr, the exit status; and a read the policy
 * denies is denied through the relay as in the agent's own shell.
 */
describe("run --agent codex: commands that start programs", () => {
  test("`ls && cat README.md` returns the file's text, stderr and exit status come back, a denied read stays denied", async () => {
    const ws = await tempDir("aos-agents-ws-");
    const home = await tempDir("aos-agents-home-");
    await writeFile(join(ws, "README.md"), "relayed readme text\n");
    await writeFile(join(ws, ".env"), "SECRET_VALUE=relay-must-not-read\n");
    const r = await heartbeat("codex", {
      ws,
      home,
      prompt: "look around",
      steps: [
        { tool: "bash", input: { command: "ls && cat README.md" } },
        { tool: "bash", input: { command: "echo to-stderr >&2; exit 3" } },
        { tool: "bash", input: { command: "cat .env; echo read-status=$?" } },
        { text: "looked" },
      ],
    });
    // (the result's error fields show in the failure message)
    expect({ code: r.code, errorCode: r.result?.errorCode, errorMessage: r.result?.errorMessage }).toEqual({ code: 0, errorCode: null, errorMessage: null });
    const last = JSON.parse(r.recorded.trim().split("\n").at(-1)!);
    const outputs: string[] = last.body.input.filter((i: { type: string }) => i.type === "function_call_output").map((i: { output: string }) => i.output);
    expect(outputs).toHaveLength(3);
    expect(outputs[0]).toContain("Process exited with code 0");
    expect(outputs[0]).toMatch(/Output:\nREADME\.md\n(.*\n)*relayed readme text\n/);
    expect(outputs[1]).toContain("Process exited with code 3");
    expect(outputs[1]).toContain("to-stderr");
    expect(outputs[2]).toContain("Permission denied");
    expect(outputs[2]).toContain("read-status=1");
    // (the tool and permission events show in the failure message)
    const toolEvents = r.evs.filter((e) => ["tool_call", "tool_result", "permission"].includes(e.type)).map((e) => [e.type, e.toolUseId, e.capability ?? e.name ?? "", e.target ?? ""]);
    const calls = r.evs.filter((e) => e.type === "tool_call");
    expect({ calls: calls.length, permissions: r.evs.filter((e) => e.type === "permission"), toolEvents }).toMatchObject({
      calls: 3,
      permissions: [expect.objectContaining({ decision: "deny", capability: "fs.read", toolUseId: calls[2]?.toolUseId })],
    });
    expect(r.stdout + r.recorded).not.toContain("relay-must-not-read");
  }, 180_000);
});

/**
 * The relay's spool is in the VM's /tmp, where the agent can write: a request the bridge cannot handle (here one
 * planted through a symlink, whose `out` is a directory) fails that request alone, with its error where the
 * request's own command would read it (err, status), and the bridge goes on relaying; it used to be an uncaught
 * error that ended the bridge and the heartbeat with it.
 */
describe("run --agent codex: a spool request the bridge cannot handle", () => {
  test("fails that request with an error the agent reads; the next command is relayed and the heartbeat ends normally", async () => {
    const ws = await tempDir("aos-agents-ws-");
    const plant = [
      "mkdir -p /tmp/planted/out",
      `printf '%s' '{"argv":["-c","echo planted-ran"],"cwd":"/"}' > /tmp/planted/req.json`,
      "for s in /tmp/paperclip-codex-relay-*/spool; do ln -s /tmp/planted $s/planted; done",
      "for i in $(seq 1 60); do [ -e /tmp/planted/status ] && break; sleep 1; done",
      "echo status=$(cat /tmp/planted/status); cat /tmp/planted/err",
    ].join("; ");
    const r = await heartbeat("codex", {
      ws,
      home: await tempDir("aos-agents-home-"),
      prompt: "plant a request",
      steps: [{ tool: "bash", input: { command: plant } }, { tool: "bash", input: { command: "echo still-relaying" } }, { text: "planted" }],
    });
    expect({ code: r.code, errorCode: r.result?.errorCode, errorMessage: r.result?.errorMessage }).toEqual({ code: 0, errorCode: null, errorMessage: null });
    const last = JSON.parse(r.recorded.trim().split("\n").at(-1)!);
    const outputs: string[] = last.body.input.filter((i: { type: string }) => i.type === "function_call_output").map((i: { output: string }) => i.output);
    expect(outputs).toHaveLength(2);
    expect(outputs[0]).toContain("status=126");
    expect(outputs[0]).toMatch(/codex relay: this request failed: [^\n]*EISDIR[^\n]*\/tmp\/paperclip-codex-relay-\d+\/spool\/planted\/out/);
    // The planted command did not run (its text is in the command line Codex echoes, not in the output).
    expect(outputs[0]!.split("\nOutput:\n")[1]).not.toContain("planted-ran");
    expect(outputs[1]).toContain("Process exited with code 0");
    expect(outputs[1]).toContain("still-relaying");
  }, 180_000);
});

/**
 * The bridge starts a session's first codex-exec when the session opens, so its WASM start is over before the prompt
 * (src/agents/codex.ts). A codex-exec waiting on its stdin stalls every other VM of a sidecar without the embedded
 * one's fixes of agentOS (src/runtime/sidecar-patch.ts), so on a user's AGENTOS_SIDECAR_BIN (here agentOS's own,
 * unpatched) it starts at the prompt, as before the fix; the heartbeat works the same either way.
 */
describe("run --agent codex: codex-exec started ahead only on the embedded sidecar", () => {
  test("embedded sidecar: started before the prompt; AGENTOS_SIDECAR_BIN: started at the prompt; both heartbeats succeed", async () => {
    const sidecarMod = (await import("@rivet-dev/agentos-sidecar")) as { getSidecarPath?: () => string; default?: { getSidecarPath?: () => string } };
    const unpatched = (sidecarMod.getSidecarPath ?? sidecarMod.default!.getSidecarPath!)();
    const started: Record<string, string[]> = {};
    for (const [name, env] of [["embedded", {}], ["own", { AGENTOS_SIDECAR_BIN: unpatched }]] as const) {
      const ws = await tempDir("aos-agents-ws-");
      const r = await heartbeat("codex", { ws, home: await tempDir("aos-agents-home-"), prompt: "write it", args: ["--debug"], env, steps: [{ tool: "write", input: { path: "out.txt", content: name } }, { text: "written" }] });
      expect({ code: r.code, errorCode: r.result?.errorCode }).toEqual({ code: 0, errorCode: null });
      expect(await readFile(join(ws, "out.txt"), "utf8")).toBe(name);
      started[name] = r.stderr.match(/this turn's codex-exec was started [^\n]*/g) ?? [];
    }
    expect(started.embedded).toEqual([expect.stringMatching(/^this turn's codex-exec was started \d+ ms before its prompt$/)]);
    expect(started.own).toEqual(["this turn's codex-exec was started at its prompt"]);
  }, 180_000);
});
