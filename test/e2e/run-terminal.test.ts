/** What a person sees of `run`: the transcript on a terminal, progress on stderr when stdout is redirected, --json forcing NDJSON. */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readFile, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { binPath, sharedCache, tempDir } from "./helpers.ts";

let dir: string;
let ws: string;
let scriptFile: string;
beforeAll(async () => {
  dir = await tempDir("aos-run-tty-");
  ws = await tempDir("aos-run-tty-ws-");
  scriptFile = join(dir, "script.json");
  await writeFile(scriptFile, JSON.stringify({ steps: [{ tool: "bash", input: { command: "printf '\\033[31mfrom-the-agent\\033[0m\\n' > made.txt && cat made.txt" } }, { text: "I wrote made.txt." }] }));
});
afterAll(() => Promise.all([dir, ws].map((d) => rm(d, { recursive: true, force: true }))));

/** Run a shell command line under a pseudo-terminal (util-linux `script`); the screen is what a person sees. */
async function onTerminal(command: string): Promise<{ code: number; screen: string }> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries({ ...process.env, PAPERCLIP_AOS_HOME: join(dir, "state"), PAPERCLIP_AOS_CACHE: sharedCache, NO_COLOR: "1", CI: undefined })) {
    if (v !== undefined) env[k] = v;
  }
  const p = Bun.spawn(["script", "-qec", command, "/dev/null"], { cwd: dir, env, stdin: "pipe", stdout: "pipe", stderr: "pipe", timeout: 170_000 });
  const [screen, code] = await Promise.all([new Response(p.stdout).text(), p.exited]);
  p.stdin.end();
  return { code, screen };
}
const run = (extra = "") => `${binPath()} run --cwd ${ws} --model scripted:${scriptFile} --prompt 'do the task' ${extra}`;

describe("run on a terminal", () => {
  test("stdout a terminal: the readable transcript, a spinner while it starts, no NDJSON", async () => {
    const { code, screen } = await onTerminal(run());
    expect(code).toBe(0);
    expect(screen).toContain("starting pi in agentOS");
    expect(screen).toContain("▶ pi in agentOS · model scripted");
    expect(screen).toContain("$ bash printf");
    expect(screen).toContain("→ from-the-agent");
    expect(screen).not.toContain("\x1b[31m");
    expect(screen).toContain("I wrote made.txt.");
    expect(screen).toMatch(/✔ success in [\d.]+ s/);
    expect(screen).not.toContain('{"type"');
  });

  test("stdout redirected: NDJSON in the file, progress (start, tool calls, summary) on the terminal", async () => {
    const out = join(dir, "out.ndjson");
    const { code, screen } = await onTerminal(`${run()} > ${out}`);
    expect(code).toBe(0);
    const events = (await readFile(out, "utf8")).trim().split("\n").map((l) => JSON.parse(l));
    expect(events[0].type).toBe("init");
    expect(events.at(-1).type).toBe("result");
    // The guest printed colour codes: the NDJSON carries the text without them.
    const output = events.find((e) => e.type === "tool_result").content as string;
    expect(output).toContain("from-the-agent");
    expect(output).not.toContain("\x1b");
    expect(screen).toContain("▶ pi in agentOS");
    expect(screen).toContain("$ bash printf");
    expect(screen).toMatch(/✔ success in [\d.]+ s/);
    expect(screen).not.toContain("I wrote made.txt.");
    expect(screen).not.toContain('{"type"');
  });

  test("--json forces NDJSON on a terminal; without it a failed run reads as one line", async () => {
    const missing = `--input - <<'EOF'\n${JSON.stringify({ prompt: "hi", cwd: join(dir, "no-such-dir") })}\nEOF`;
    const json = await onTerminal(`${binPath()} run --json ${missing}`);
    expect(json.code).toBe(2);
    expect(json.screen).toContain('{"type":"result"');
    const human = await onTerminal(`${binPath()} run ${missing}`);
    expect(human.code).toBe(2);
    expect(human.screen).toContain("✖ config_invalid");
    expect(human.screen).toContain("does not exist");
    expect(human.screen).not.toContain('{"type"');
  });
});
