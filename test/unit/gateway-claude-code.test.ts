import { describe, expect, test } from "bun:test";
import { mkdir, readFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { type Gateway, parseScript } from "../../src/gateway/index.ts";
import { gatewayFixture } from "./gateway-fixture.ts";

// The Claude Code CLI that the agentOS package runs in the VM (its bundled, patched build), run on the host with node
// in print mode against the scripted gateway: the requests it really sends (HEAD /, POST /v1/messages?beta=true,
// streaming, its own tool names) get answers it accepts. No VM: the VM runs of Claude Code are the agents' e2e tests.

const { start, tmp } = gatewayFixture("gw-claude-");
// A node process of a 13 MB bundle per test: seconds on a loaded machine, so the timeouts are generous.

const pkgDir = dirname(dirname(Bun.resolveSync("@agentos-software/claude-code", import.meta.dir)));
const entry = join(pkgDir, "dist", ((await Bun.file(join(pkgDir, "dist", "claude-cli-patched.json")).json()) as { entry: string }).entry);

async function claudePrint(gw: Gateway, prompt: string) {
  const dir = await tmp();
  const [home, ws, tmpDir] = [join(dir, "home"), join(dir, "ws"), join(dir, "tmp")];
  await Promise.all([home, ws, tmpDir].map((d) => mkdir(d)));
  const proc = Bun.spawn(["node", entry, "-p", prompt, "--output-format", "json", "--dangerously-skip-permissions"], {
    cwd: ws,
    env: {
      PATH: process.env.PATH ?? "/usr/bin:/bin",
      HOME: home,
      TMPDIR: tmpDir,
      CLAUDE_CODE_TMPDIR: tmpDir,
      // The test runs as root; Claude Code refuses to skip permissions as root outside a sandbox.
      IS_SANDBOX: "1",
      ANTHROPIC_BASE_URL: gw.url,
      ANTHROPIC_API_KEY: gw.token,
      ANTHROPIC_MODEL: "claude-sonnet-4-5",
      ANTHROPIC_SMALL_FAST_MODEL: "claude-sonnet-4-5",
      CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: "1",
      DISABLE_TELEMETRY: "1",
    },
    stdin: "ignore",
    stdout: "pipe",
    stderr: "pipe",
  });
  const [stdout, stderr, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  const last = stdout.trim().split("\n").at(-1) ?? "";
  return { code, stderr, ws, result: last.startsWith("{") ? (JSON.parse(last) as Record<string, any>) : undefined };
}

describe("Claude Code's CLI on the scripted gateway", () => {
  test("a tool loop: the script's bash runs as Claude Code's Bash, usage is the script's, the token stays out of the record", async () => {
    const dir = await tmp();
    const recordFile = join(dir, "record.ndjson");
    const gw = await start({
      model: "scripted",
      recordFile,
      script: parseScript({
        steps: [
          { tool: "bash", input: { command: "echo hi > x.txt" }, usage: { input: 100, output: 10 } },
          { text: "Wrote x.txt.", usage: { input: 120, output: 5 } },
        ],
      }),
    });
    const r = await claudePrint(gw, "write hi to x.txt");
    expect(r.result).toMatchObject({ type: "result", is_error: false, result: "Wrote x.txt.", num_turns: 2 });
    expect(r.code).toBe(0);
    expect(await readFile(join(r.ws, "x.txt"), "utf8")).toBe("hi\n");
    expect(gw.usage()).toMatchObject({ inputTokens: 220, outputTokens: 15 });
    expect(r.result!.usage).toMatchObject({ input_tokens: 220, output_tokens: 15 });
    expect(gw.notes).toHaveLength(1); // only the scripted-price note: the mapped call fitted Claude Code's Bash
    await gw.close();
    const lines = (await readFile(recordFile, "utf8")).trim().split("\n").map((l) => JSON.parse(l));
    expect(lines.map((l) => [l.method, l.path, l.status, l.body.stream])).toEqual([
      ["POST", "/v1/messages?beta=true", 200, true],
      ["POST", "/v1/messages?beta=true", 200, true],
    ]);
    expect(lines[0].body.tools.map((t: { name: string }) => t.name)).toContain("Bash");
    expect(lines[0].headers["x-api-key"]).toBe("[REDACTED]");
    expect(await readFile(recordFile, "utf8")).not.toContain(gw.token);
  }, 120_000);

  test("a script that runs out: Claude Code gets the 400 once (no retry) and reports an error; the gateway says script_exhausted", async () => {
    const gw = await start({ model: "scripted", script: parseScript({ steps: [{ tool: "bash", input: { command: "true" } }] }) });
    const r = await claudePrint(gw, "do it");
    expect(r.result).toMatchObject({ is_error: true });
    expect(JSON.stringify(r.result)).toContain("no step left");
    expect(gw.lastError()).toMatchObject({ errorCode: "script_exhausted", status: 400 });
    expect(gw.requests()).toBe(2);
    expect(gw.stepsUsed()).toBe(1);
  }, 120_000);
});
