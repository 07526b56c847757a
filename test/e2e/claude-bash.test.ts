import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { untilServing } from "../../src/worker/index.ts";
import { binPath, preparedVm, privateCache, protocolEvents, removeTempDirs, runBin, spareReady, stopServe, tempDir } from "./helpers.ts";

/**
 * How Claude Code's Bash commands run in every kind of VM (src/agents/claude.ts: its managed settings and shell
 * prefix), through the compiled binary and real Claude Code: booted for the run in this process, a worker's spare,
 * and a session's prepared VM. The command runs without the package's node shell wrapper, its stdin is the null
 * device (a command that reads stdin is not left waiting on a pipe nobody writes), it is still under the VM's policy
 * (the git hook's append and a write to the managed settings are refused), and its stdout, stderr and exit code reach
 * the model (the package has Claude Code read a command's stderr from a pipe of its own, which its Bash tool then
 * dropped: the model never saw a failing command's error message).
 */
let home: string;
let cache: string;
let serve: ReturnType<typeof Bun.spawn> | undefined;
const env = () => ({ PAPERCLIP_AOS_HOME: home, PAPERCLIP_AOS_CACHE: cache });

beforeAll(async () => {
  home = await tempDir("aos-cbash-home-");
  cache = await privateCache();
  serve = Bun.spawn([binPath(), "serve", "--spares", "1"], { env: { ...process.env, ...env() }, stdin: "ignore", stdout: "ignore", stderr: "pipe" });
  await untilServing(serve.stderr as ReadableStream<Uint8Array>, "worker ready");
}, 180_000);

afterAll(async () => {
  await stopServe(serve);
  await removeTempDirs();
});

async function status(): Promise<any> {
  const r = await runBin(["serve", "--status", "--json"], { env: env() });
  expect(r.code).toBe(0);
  return JSON.parse(r.stdout);
}

const PROBE =
  `echo "wrapper=\${CLAUDE_CODE_NODE_SHELL_COMMAND:-none}"; read -r line; echo "stdin-rc=$?"; wc -c | tr -d ' ' | sed 's/^/stdin-bytes=/'; ` +
  `echo evil >> /workspace/.git/hooks/pre-commit; echo "hook-rc=$?"; echo '{}' > /etc/claude-code/managed-settings.json; echo "settings-rc=$?"`;
const STEPS = [{ tool: "bash", input: { command: PROBE } }, { tool: "bash", input: { command: "echo out-4242; echo err-4242 >&2; exit 3" } }, { text: "probed" }];

async function workspace(): Promise<string> {
  const ws = await tempDir("aos-cbash-ws-");
  await mkdir(join(ws, ".git", "hooks"), { recursive: true });
  await writeFile(join(ws, ".git", "hooks", "pre-commit"), "#!/bin/sh\necho original\n");
  return ws;
}

async function probe(ws: string, key: string, worker: boolean) {
  const dir = await tempDir("aos-cbash-run-");
  const script = join(dir, "script.json");
  await writeFile(script, JSON.stringify({ steps: STEPS }));
  const record = join(dir, "record.ndjson");
  const args = ["run", ...(worker ? [] : ["--worker", "off"]), "--agent", "claude", "--cwd", ws, "--model", `scripted:${script}`, "--prompt", "probe", "--task-key", key, "--record", record];
  const r = await runBin(args, { env: env(), timeoutMs: 400_000 });
  const evs = r.stdout.trim() ? protocolEvents(r.stdout) : [];
  // What Claude Code sent the model after each step: the tool results it read.
  const results = (await readFile(record, "utf8"))
    .trim()
    .split("\n")
    .map((l) => JSON.parse(l).body?.messages?.at(-1)?.content)
    .filter(Array.isArray)
    .flatMap((c: any[]) => c.filter((x) => x.type === "tool_result").map((x) => JSON.stringify(x.content)));
  expect({ code: r.code, errorCode: evs.at(-1)?.errorCode }).toEqual({ code: 0, errorCode: null });
  expect(results).toHaveLength(2);
  const [first, second] = results as [string, string];
  expect(first).toContain("wrapper=none");
  expect(first).toContain("stdin-rc=1");
  expect(first).toContain("stdin-bytes=0");
  expect(first).toMatch(/hook-rc=[1-9]/);
  expect(first).toMatch(/settings-rc=[1-9]/);
  // The shell's refusal reaches the model as words, and Paperclip sees it as a refusal of that write.
  expect(first).toContain("failed to redirect to /etc/claude-code/managed-settings.json: Permission denied");
  expect(evs.filter((e) => e.type === "permission")).toContainEqual(
    expect.objectContaining({ decision: "deny", capability: "fs.write", target: "/etc/claude-code/managed-settings.json" }),
  );
  expect(second).toContain("Exit code 3");
  expect(second).toContain("out-4242");
  expect(second).toContain("err-4242");
  expect(await readFile(join(ws, ".git", "hooks", "pre-commit"), "utf8")).toBe("#!/bin/sh\necho original\n");
  return evs;
}

describe("Claude Code's Bash commands", () => {
  test("booted for the run (in this process): no node wrapper, stdin at EOF, the VM's policy, stdout, stderr and exit code reach the model", async () => {
    await probe(await workspace(), "cbash-direct", false);
  }, 900_000);

  test("through the worker, on a spare and on the session's prepared VM: the same", async () => {
    // The first heartbeat teaches the worker the policy (a VM booted for it); spares are made after its result.
    await probe(await workspace(), "cbash-teach", true);
    const before = await spareReady(status, "claude");
    const ws = await workspace();
    const cold = await probe(ws, "cbash-spare", true);
    expect((await status()).warm.spares.policies.find((p: any) => p.agent === "claude").hits).toBe(before.hits + 1);
    const prepared = await preparedVm(status);
    const resumed = await probe(ws, "cbash-spare", true);
    expect(resumed[0]).toMatchObject({ type: "init", resumed: true, sessionId: cold[0]!.sessionId });
    expect((await status()).warm.resumable.hits).toBe(prepared.hits + 1);
  }, 900_000);
});
