import { mkdir, symlink } from "node:fs/promises";
import { existsSync } from "node:fs";
import { homedir } from "node:os";
import { join, resolve } from "node:path";
import * as v from "valibot";
import { RunEventSchema } from "../../src/protocol/index.ts";
import { removeTempDirs, tempDir } from "../tmp.ts";

export { removeTempDirs, tempDir };

/** The compiled binary under test: $PAPERCLIP_AOS_BIN, else dist/paperclip-aos (`bun run build`). */
export function binPath(): string {
  const bin = resolve(process.env.PAPERCLIP_AOS_BIN ?? join(import.meta.dir, "..", "..", "dist", "paperclip-aos"));
  if (!existsSync(bin)) throw new Error(`${bin} does not exist: run 'bun run build' first (or 'bun run test', which builds)`);
  return bin;
}

/**
 * One extraction cache for every test run: extracting 360 MB per test would dominate the suite. It lives with the
 * user's caches, not in /tmp (tests leave nothing there); $PAPERCLIP_AOS_TEST_CACHE moves it.
 */
export const sharedCache = resolve(process.env.PAPERCLIP_AOS_TEST_CACHE ?? join(homedir(), ".cache", "paperclip-aos-test"));

/**
 * A cache dir of its own whose rt/ links to the shared extraction: sidecars started with it carry its path in their
 * command line, so a test can tell its own sidecars from those of anything else running on the machine. `shared`: the
 * cache whose extraction to link (a lane's own, instead of the e2e tests').
 */
export async function privateCache(shared = sharedCache): Promise<string> {
  const cache = await tempDir("aos-cache-");
  await mkdir(join(shared, "rt"), { recursive: true });
  await symlink(join(shared, "rt"), join(cache, "rt"));
  return cache;
}

export function processesMentioning(text: string): string[] {
  return Bun.spawnSync(["ps", "-eo", "args="]).stdout.toString().split("\n").filter((l) => l.includes(text));
}

export interface BinResult {
  code: number;
  stdout: string;
  stderr: string;
  durationMs: number;
}

export interface BinOptions {
  cwd?: string;
  env?: Record<string, string | undefined>;
  stdin?: string;
  timeoutMs?: number;
}

/**
 * Spawn the real binary from `cwd` (a fresh empty dir by default) with a private state dir, so tests never touch the
 * user's ~/.local/share and never see each other's sessions or snapshots.
 */
export async function runBin(args: string[], opts: BinOptions = {}): Promise<BinResult> {
  const cwd = opts.cwd ?? (await tempDir());
  const home = opts.env?.PAPERCLIP_AOS_HOME ?? join(cwd, ".aos-state");
  await mkdir(sharedCache, { recursive: true });
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries({ ...process.env, PAPERCLIP_AOS_HOME: home, PAPERCLIP_AOS_CACHE: sharedCache, XDG_CONFIG_HOME: join(cwd, ".aos-config"), NO_COLOR: "1", ...opts.env })) {
    if (v !== undefined) env[k] = v;
  }
  const started = performance.now();
  const p = Bun.spawn([binPath(), ...args], {
    cwd,
    env,
    stdin: opts.stdin === undefined ? "ignore" : new TextEncoder().encode(opts.stdin),
    stdout: "pipe",
    stderr: "pipe",
    timeout: opts.timeoutMs ?? 110_000,
  });
  const [stdout, stderr, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
  return { code, stdout, stderr, durationMs: performance.now() - started };
}

export function parseJson<T = any>(text: string): T {
  try {
    return JSON.parse(text) as T;
  } catch {
    throw new Error(`stdout is not one JSON document:\n${text.slice(0, 2000)}`);
  }
}

/** The NDJSON events of a `run`'s stdout, each checked against the protocol (a line off it throws, naming it). */
export function protocolEvents(stdout: string): Record<string, any>[] {
  return runEvents(stdout).map((e) => {
    const checked = v.safeParse(RunEventSchema, e);
    if (!checked.success) throw new Error(`event off the protocol: ${v.summarize(checked.issues)}\n${JSON.stringify(e).slice(0, 400)}`);
    return e;
  });
}

/** The NDJSON events of a `run`'s stdout. */
export function runEvents(stdout: string): Record<string, any>[] {
  return stdout.split("\n").filter(Boolean).map((l) => JSON.parse(l));
}

/** A `run` of the compiled binary on the scripted model: `steps` is the script (see README, scripted model). */
export async function scriptedRun(opts: { steps: unknown[]; ws: string; home: string; args?: string[]; env?: Record<string, string | undefined>; timeoutMs?: number }) {
  const scratch = await tempDir("aos-script-");
  const file = join(scratch, "script.json");
  await Bun.write(file, JSON.stringify({ steps: opts.steps }));
  const r = await runBin(["run", "--cwd", opts.ws, "--model", `scripted:${file}`, "--prompt", "do the task", ...(opts.args ?? [])], {
    env: { PAPERCLIP_AOS_HOME: opts.home, ...opts.env },
    timeoutMs: opts.timeoutMs,
  });
  return { ...r, evs: r.stdout.trim() ? runEvents(r.stdout) : [] };
}

/** Every file under `dir` (recursively), for "the secret is in none of them" checks. */
export async function filesUnder(dir: string): Promise<string[]> {
  const { readdir } = await import("node:fs/promises");
  const out: string[] = [];
  for (const e of await readdir(dir, { withFileTypes: true, recursive: true }).catch(() => [])) {
    if (e.isFile()) out.push(join(e.parentPath, e.name));
  }
  return out;
}

/**
 * Stop a test's `serve` as an operator would (SIGTERM, SIGKILL only after 20 s): a SIGKILLed worker's sidecar lives
 * on until its watchdog sees it and writes its log and scratch into the test's cache after that was removed (a
 * /tmp/aos-cache-* was left behind every run).
 */
export async function stopServe(serve: { kill(signal?: NodeJS.Signals | number): void; exited: Promise<number> } | undefined): Promise<void> {
  if (!serve) return;
  serve.kill("SIGTERM");
  await Promise.race([serve.exited, Bun.sleep(20_000)]);
  serve.kill("SIGKILL");
  await serve.exited;
}

/** Wait until a worker (`status`: its `serve --status --json`) has a session's next VM ready and none being prepared; its resumable counters. */
export async function preparedVm(status: () => Promise<any>): Promise<any> {
  for (let i = 0; i < 480; i++) {
    const r = (await status()).warm.resumable;
    if (r.ready >= 1 && r.preparing === 0) return r;
    await Bun.sleep(250);
  }
  throw new Error(`no session's next VM got ready: ${JSON.stringify((await status()).warm.resumable)}`);
}

/** Wait until a worker (`status`: its `serve --status --json`) has a spare for `agent` ready and runs nothing; that policy's entry. */
export async function spareReady(status: () => Promise<any>, agent: string): Promise<any> {
  for (let i = 0; i < 360; i++) {
    const s = await status();
    const p = s.warm.spares.policies.find((x: any) => x.agent === agent && x.ready > 0);
    if (p && s.running === 0) return p;
    await Bun.sleep(500);
  }
  throw new Error(`no spare for ${agent}: ${JSON.stringify((await status()).warm.spares)}`);
}
