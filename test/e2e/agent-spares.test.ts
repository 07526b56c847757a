import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { untilServing } from "../../src/worker/index.ts";
import { binPath, preparedVm, privateCache, protocolEvents, removeTempDirs, runBin, spareReady, stopServe, tempDir } from "./helpers.ts";

/**
 * Spare VMs of the agents other than Pi (src/agents/*: `spare`), through the compiled binary and one `serve`: a
 * heartbeat that takes a spare made before its run existed still gets that run's env (its agent's shell commands see
 * it) and Paperclip's instructions (in what the model was sent), answers, and leaves a session the next heartbeat
 * resumes. Codex's and Claude Code's session is opened ahead (the run arrives in Codex's config file, in the env file
 * Claude Code's Bash commands source); OpenCode's VM is prepared up to the session, which opens at request time; a
 * resumed OpenCode heartbeat takes a spare as well. No agent's command sees the run's gateway token.
 */
let home: string;
let cache: string;
let serve: ReturnType<typeof Bun.spawn> | undefined;

const env = () => ({ PAPERCLIP_AOS_HOME: home, PAPERCLIP_AOS_CACHE: cache });

beforeAll(async () => {
  home = await tempDir("aos-aspare-home-");
  cache = await privateCache();
  // One spare at a time: the agents below are served one after the other.
  serve = Bun.spawn([binPath(), "serve", "--spares", "1"], { env: { ...process.env, ...env() }, stdin: "ignore", stdout: "ignore", stderr: "pipe" });
  await untilServing(serve.stderr as ReadableStream<Uint8Array>, "worker ready");
}, 180_000);

afterAll(async () => {
  await stopServe(serve);
  // Every temp dir comes from helpers.tempDir, which tracks it; this file removes them when it is done.
  await removeTempDirs();
});

async function status(): Promise<any> {
  const r = await runBin(["serve", "--status", "--json"], { env: env() });
  expect(r.code).toBe(0);
  return JSON.parse(r.stdout);
}

const policyOf = async (agent: string) => (await status()).warm.spares.policies.find((p: any) => p.agent === agent);

async function heartbeat(agent: string, o: { ws: string; key: string; steps: unknown[]; prompt?: string; runEnv?: Record<string, string> }) {
  const dir = await tempDir("aos-aspare-run-");
  const script = join(dir, "script.json");
  await writeFile(script, JSON.stringify({ steps: o.steps }));
  const input = join(dir, "request.json");
  await writeFile(input, JSON.stringify({ env: o.runEnv ?? {} }));
  const record = join(dir, "record.ndjson");
  const args = ["run", "--agent", agent, "--cwd", o.ws, "--model", `scripted:${script}`, "--prompt", o.prompt ?? "do the task", "--task-key", o.key, "--input", input, "--record", record];
  const r = await runBin(args, { env: env(), timeoutMs: 240_000 });
  const evs = r.stdout.trim() ? protocolEvents(r.stdout) : [];
  return { ...r, evs, result: evs.at(-1)!, sent: await readFile(record, "utf8").catch(() => "") };
}

// Bash builtins and redirects only: what every agent's shell runs the same way (Codex's goes through our relay).
// `export -p` is the command's whole env, where the run's gateway token (the agent's own) must not be.
const DUMP_ENV = { tool: "bash", input: { command: "export -p > env.txt" } };
const MARK = [{ tool: "bash", input: { command: `printf 'mark=%s\\n' "$SPARE_MARK" > mark.txt; export -p > env.txt` } }, { text: "The mark is written." }];
const TOKEN_VARS = ["ANTHROPIC_API_KEY", "PAPERCLIP_GATEWAY_TOKEN"];

/**
 * What the agent in the VM tries against the parts of each agent's setup that a worker adds (each step a command of
 * the agent's own shell; the host checks the outcome). In the heartbeat that teaches the worker (a VM booted for it):
 * Codex's shell relay takes a request planted in its spool by hand (another cwd and env), which must run under the
 * same policy: reading `.env` and appending to the git hook are refused. Every agent writes out the gateway token it
 * can see (Codex's config file, the environ of Claude Code's command shell) so the host can show it dies with the run.
 */
// Builtins only inside the planted request (a program started through the relay fails now and then with "failed to
// execute command 'cat': Bad address (os error 21)", as any relayed command's can); the two programs outside are
// tried again when that happens. The request is served while the turn goes on, so it is done when the run is.
const SPOOL_PLANT =
  `for S in /tmp/paperclip-codex-relay-*/spool; do :; done; for i in 1 2 3; do mkdir -p $S/p1.tmp && break; done; ` +
  `printf '%s' '{"argv":["-c","read -r l < /workspace/.env 2> /workspace/planted.txt; echo planted-read=$? >> /workspace/planted.txt; echo evil >> /workspace/.git/hooks/pre-commit 2>> /workspace/planted.txt; echo planted-hook=$? >> /workspace/planted.txt; echo planted-home=$HOME >> /workspace/planted.txt"],"cwd":"/","env":{"HOME":"/tmp","PATH":"/opt/agentos/bin:/usr/bin:/bin"}}' > $S/p1.tmp/req.json; ` +
  `for i in 1 2 3; do mv $S/p1.tmp $S/p1 && break; done; echo planted`;
const TEACH_ATTACKS: Record<string, unknown[]> = {
  opencode: [],
  claude: [{ tool: "bash", input: { command: "tr '\\0' '\\n' < /proc/$$/environ > /workspace/token.txt" } }],
  codex: [{ tool: "bash", input: { command: SPOOL_PLANT } }, { tool: "bash", input: { command: "cat ~/.codex/config.toml > /workspace/token.txt" } }],
};
/**
 * In the heartbeat on a spare: the run file a worker answers from memory (~/.paperclip, src/runtime/memory-vfs.ts),
 * which Claude Code's shell prefix sources before every command and Codex's bridge copies over its config before every
 * turn, cannot be changed, moved, removed, replaced by a link or chmodded; the next command (MARK) still gets the
 * run's env and no token, so the file held.
 */
const RUN_FILE: Record<string, string> = { claude: "claude-env.sh", codex: "codex-config.toml" };
const tamper = (f: string) =>
  `{ cd ~/.paperclip; echo 'export SPARE_MARK=tampered' >> ${f}; echo append=$?; echo x > ${f}; echo write=$?; mv ${f} moved; echo mv=$?; rm -f ${f}; echo rm=$?; ` +
  `chmod 777 ${f}; echo chmod=$?; touch new.sh; echo create=$?; ln -s /tmp/x link; echo symlink=$?; cd /; mv ~/.paperclip /tmp/pc; echo mvdir=$?; ls ~/.paperclip; } > /workspace/tamper.txt 2>&1`;
const SPARE_ATTACKS: Record<string, unknown[]> = {
  opencode: [],
  claude: [{ tool: "bash", input: { command: tamper(RUN_FILE.claude!) } }, { tool: "bash", input: { command: "tr '\\0' '\\n' < /proc/$$/environ > /workspace/token.txt" } }],
  codex: [{ tool: "bash", input: { command: tamper(RUN_FILE.codex!) } }, { tool: "bash", input: { command: "cat ~/.codex/config.toml > /workspace/token.txt" } }],
};

/** The gateway token the agent wrote out (token.txt), refused by the worker's gateway now that its run is over. */
async function expectTokenDead(ws: string, agent: string): Promise<void> {
  if (!TEACH_ATTACKS[agent]!.length) return;
  const token = /pcgw-[0-9a-f]+/.exec(await readFile(join(ws, "token.txt"), "utf8"))?.[0];
  expect(token).toBeDefined();
  const res = await fetch(`http://127.0.0.1:${(await status()).warm.gatewayPort}/v1/responses`, {
    method: "POST",
    headers: { authorization: `Bearer ${token}`, "x-api-key": token!, "content-type": "application/json" },
    body: JSON.stringify({ model: "gpt-5-codex", input: "hi" }),
  });
  expect(res.status).toBe(401);
}

/** The env the agent's command dumped: it lists the run's variables and none holding the gateway token. */
async function expectNoToken(ws: string, has: string): Promise<void> {
  const dumped = await readFile(join(ws, "env.txt"), "utf8");
  expect(dumped).toContain(has);
  for (const v of TOKEN_VARS) expect(dumped).not.toContain(v);
  expect(dumped).not.toMatch(/pcgw-/);
}

/**
 * Claude Code reads the project's .claude/settings.json when it starts, at session open: a spare's opened on its
 * stand-in workspace. A workspace with one boots a VM of its own, whose Claude Code applies it (here its `env`,
 * which that file's Bash commands see), and its spare waits for the next heartbeat.
 */
async function ownSettingsTakeNoSpare(): Promise<void> {
  const before = await spareReady(status, "claude");
  const ws = await tempDir("aos-aspare-ws-");
  await mkdir(join(ws, ".claude"));
  await writeFile(join(ws, ".claude", "settings.json"), JSON.stringify({ env: { SETTINGS_MARK: "s-4711" } }));
  const steps = [{ tool: "bash", input: { command: `printf 'mark=%s\\n' "$SETTINGS_MARK" > mark.txt; export -p > env.txt` } }, { text: "done" }];
  const r = await heartbeat("claude", { ws, key: "claude-own-settings", steps, runEnv: { OWN_MARK: "o-1" } });
  expect({ code: r.code, errorCode: r.result.errorCode }).toEqual({ code: 0, errorCode: null });
  expect(await readFile(join(ws, "mark.txt"), "utf8")).toBe("mark=s-4711\n");
  await expectNoToken(ws, "OWN_MARK");
  expect(await policyOf("claude")).toMatchObject({ hits: before.hits, misses: before.misses, ready: before.ready });
}

describe.each([["opencode"], ["claude"], ["codex"]])("serve: a spare VM for --agent %s", (agent) => {
  test(
    "a heartbeat on it gets the run's env and instructions and answers; the next heartbeat resumes the session",
    async () => {
      // The first heartbeat of this policy teaches the worker; spares for it are made after its result.
      // Its VM is booted for it (no spare yet); its command's env lacks the token as well.
      const teachWs = await tempDir("aos-aspare-ws-");
      await writeFile(join(teachWs, ".env"), "SECRET=spool-must-not-read\n");
      await mkdir(join(teachWs, ".git", "hooks"), { recursive: true });
      await writeFile(join(teachWs, ".git", "hooks", "pre-commit"), "#!/bin/sh\necho original\n");
      const taught = await heartbeat(agent, { ws: teachWs, key: `teach-${agent}`, steps: [DUMP_ENV, ...TEACH_ATTACKS[agent]!, { text: "ok" }], runEnv: { TEACH_MARK: "t-1" } });
      expect(taught.code).toBe(0);
      await expectNoToken(teachWs, "TEACH_MARK");
      if (agent === "codex") {
        // The planted request ran (its own HOME), under the VM's policy: the read and the hook's append were refused.
        const planted = await readFile(join(teachWs, "planted.txt"), "utf8");
        expect(planted).toContain("Permission denied");
        expect(planted).toMatch(/planted-read=1\n(.*\n)?planted-hook=1\nplanted-home=\/tmp\n$/);
        expect(await readFile(join(teachWs, ".git", "hooks", "pre-commit"), "utf8")).toBe("#!/bin/sh\necho original\n");
        expect(taught.stdout + taught.sent + planted).not.toContain("spool-must-not-read");
      }
      await expectTokenDead(teachWs, agent);
      const before = await spareReady(status, agent);

      const ws = await tempDir("aos-aspare-ws-");
      // Codex reads the workspace's AGENTS.md when its turn starts (codex-exec is started per turn), so on a spare,
      // opened before the run existed, the run's own file reaches the model.
      if (agent === "codex") await writeFile(join(ws, "AGENTS.md"), "Project rule: AGENTS-MARK-5151.\n");
      const first = await heartbeat(agent, { ws, key: `spare-${agent}`, steps: [...SPARE_ATTACKS[agent]!, ...MARK], prompt: "write the mark and remember the word PAPAYA", runEnv: { SPARE_MARK: `m-${agent}-4711` } });
      expect({ code: first.code, errorCode: first.result.errorCode, errorMessage: first.result.errorMessage }).toEqual({ code: 0, errorCode: null, errorMessage: null });
      expect((await policyOf(agent)).hits).toBe(before.hits + 1);
      // The run's env reached the agent's shell command, Paperclip's instructions (naming this run) the model.
      expect(await readFile(join(ws, "mark.txt"), "utf8")).toBe(`mark=m-${agent}-4711\n`);
      await expectNoToken(ws, "SPARE_MARK");
      if (RUN_FILE[agent]) {
        // Every change to the run file failed (and the MARK after it still got the run's env, above).
        const tampered = await readFile(join(ws, "tamper.txt"), "utf8");
        for (const op of ["append", "write", "mv", "rm", "chmod", "create", "symlink", "mvdir"]) expect(tampered).toMatch(new RegExp(`^${op}=[1-9]`, "m"));
        expect(tampered).toContain(RUN_FILE[agent]);
        await expectTokenDead(ws, agent);
      }
      expect(first.sent).toContain(`You are working for Paperclip inside an agentOS VM (run ${first.evs[0]!.runId})`);
      expect(first.result).toMatchObject({ type: "result", subtype: "success", sessionParams: { agent, taskKey: `spare-${agent}` } });
      expect(first.evs.some((e) => e.type === "assistant" && e.text === "The mark is written.")).toBe(true);
      if (agent === "codex") {
        expect(first.sent).toContain("AGENTS-MARK-5151");
        // Codex's bundled system skills are off (writing them cost seconds a turn): none is offered to the model.
        expect(first.sent).not.toContain("skill-creator");
      }

      // The session it ran in is the task's. OpenCode starts a new session each heartbeat with the transcript, so
      // that one takes a spare too; the others' resumed heartbeat takes the VM the worker prepared on its database.
      if (agent === "opencode") await spareReady(status, agent);
      // Claude Code's and Codex's session has its next VM prepared (booted on its database, the session reopened).
      const resumable = agent === "opencode" ? undefined : await preparedVm(status);
      const hits = (await policyOf(agent)).hits;
      const second = await heartbeat(agent, { ws, key: `spare-${agent}`, steps: [{ text: "It was PAPAYA." }], prompt: "what was the word?" });
      expect({ code: second.code, errorCode: second.result.errorCode }).toEqual({ code: 0, errorCode: null });
      expect(second.evs[0]).toMatchObject({ type: "init", resumed: true, sessionId: first.evs[0]!.sessionId });
      expect(second.sent).toContain("remember the word PAPAYA");
      expect((await policyOf(agent)).hits).toBe(agent === "opencode" ? hits + 1 : hits);
      if (resumable) expect((await status()).warm.resumable.hits).toBe(resumable.hits + 1);

      // Claude Code reads the project's .claude/settings.json only when it starts, which a spare's did on its stand-in
      // workspace: a workspace that has one takes no spare (its VM is booted for it), and its run still works.
      if (agent === "claude") await ownSettingsTakeNoSpare();
    },
    600_000,
  );
});
