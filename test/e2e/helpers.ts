import { mkdtemp, mkdir, symlink } from "node:fs/promises";
import { existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

/** The compiled binary under test: $PAPERCLIP_AOS_BIN, else dist/paperclip-aos (`bun run build`). */
export function binPath(): string {
  const bin = resolve(process.env.PAPERCLIP_AOS_BIN ?? join(import.meta.dir, "..", "..", "dist", "paperclip-aos"));
  if (!existsSync(bin)) throw new Error(`${bin} does not exist: run 'bun run build' first (or 'bun run test', which builds)`);
  return bin;
}

/** One extraction cache for the whole test run: extracting 360 MB per test would dominate the suite. */
export const sharedCache = join(tmpdir(), "paperclip-aos-test-cache");

/**
 * A cache dir of its own whose rt/ links to the shared extraction: sidecars started with it carry its path in their
 * command line, so a test can tell its own sidecars from those of anything else running on the machine.
 */
export async function privateCache(): Promise<string> {
  const cache = await tempDir("aos-cache-");
  await mkdir(sharedCache, { recursive: true });
  await symlink(join(sharedCache, "rt"), join(cache, "rt"));
  return cache;
}

export function processesMentioning(text: string): string[] {
  return Bun.spawnSync(["ps", "-eo", "args="]).stdout.toString().split("\n").filter((l) => l.includes(text));
}

export async function tempDir(prefix = "aos-test-"): Promise<string> {
  return mkdtemp(join(tmpdir(), prefix));
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
