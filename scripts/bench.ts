/**
 * `bun run bench [--json] [--only=NAME,...] [--runs=N]` (NAME: binary, help, exec, caps, tool, run, worker, engine, snapshot, or a row: BENCH_USAGE): each entry is measured as a ratio against a baseline run in
 * the same invocation (never an absolute time), so the numbers mean the same on a loaded machine. Prints a table, or
 * one JSON document with --json. Needs the compiled binary (`bun run build`).
 */
import { existsSync, readdirSync, statSync } from "node:fs";
import { AGENTS } from "../src/agents/index.ts";
import { procStat, treeRssKb } from "../src/runtime/index.ts";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";

const root = join(import.meta.dir, "..");
const bin = process.env.PAPERCLIP_AOS_BIN ?? join(root, "dist", "paperclip-aos");
const log = (m: string) => process.stderr.write(`${m}\n`);

/**
 * What `--only` can select: the groups and the rows selected by their own names (a name selects every entry it is a
 * prefix of, as `want` below decides). An agent's per-row names (`run.pi.cold`) are not selectable: its heartbeat
 * measures cold, resumed and memory together.
 */
export function benchSelectors(agents: readonly string[]): string[] {
  return [
    "binary",
    "help",
    "exec",
    "caps",
    "tool",
    "run",
    ...agents.map((a) => `run.${a}`),
    "worker",
    ...agents.map((a) => `worker.${a}`),
    "worker.rss-4",
    "worker.rss-8",
    "worker.concurrent-20",
    "engine",
    "snapshot",
  ];
}

export const BENCH_USAGE = `Usage: bun scripts/bench.ts [--json] [--only=NAME,...] [--runs=N]

Measures the compiled binary (dist/paperclip-aos, or $PAPERCLIP_AOS_BIN; 'bun run build' first), each entry as a
ratio against a baseline run in the same invocation. The whole bench takes tens of minutes; --only picks rows.

  --json           one JSON document on stdout ({runs, entries}) instead of the table
  --only=NAME,...  only these groups or rows (a name selects every row it is a prefix of):
                   NAMES
  --runs=N         runs per measurement (default 5; heartbeat rows take max(3, N/2))
  -h, --help       this text

Exit: 0 every entry passed its target, 1 one did not (or a measurement failed), 2 invalid arguments. Informational
rows (target 'no target', ok 'info': sizes, the worker's warm-up) are reported and never fail.`;

export interface BenchArgs {
  json: boolean;
  only: string[] | undefined;
  runs: number;
}

/** The bench's arguments, or the one-line reason they are invalid (`--help` is `{ help: true }`). */
export function parseBenchArgs(argv: readonly string[], agents: readonly string[]): BenchArgs | { help: true } | { error: string } {
  const out: BenchArgs = { json: false, only: undefined, runs: 5 };
  const selectors = benchSelectors(agents);
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === "-h" || a === "--help") return { help: true };
    if (a === "--json") {
      out.json = true;
      continue;
    }
    const m = /^--(only|runs)(?:=(.*))?$/s.exec(a);
    if (!m) return { error: `unknown argument '${a}'` };
    const value = m[2] ?? argv[++i];
    if (value === undefined) return { error: `--${m[1]} needs a value (--${m[1]}=...)` };
    if (m[1] === "runs") {
      if (!/^[1-9]\d*$/.test(value)) return { error: `--runs takes a whole number of at least 1, not '${value}'` };
      out.runs = Number(value);
      continue;
    }
    const names = value.split(",");
    const unknown = names.filter((n) => n === "" || !selectors.some((s) => s.startsWith(n)));
    if (unknown.length) return { error: `--only: unknown name${unknown.length > 1 ? "s" : ""} ${unknown.map((n) => `'${n}'`).join(", ")} (names: ${selectors.join(", ")})` };
    out.only = [...(out.only ?? []), ...names];
  }
  return out;
}

// Parsed only when run as the bench: bench-engine.ts and bench-snapshot.ts import this file for its helpers.
const args: BenchArgs = import.meta.main ? parsedOrExit() : { json: false, only: undefined, runs: 5 };
function parsedOrExit(): BenchArgs {
  const parsed = parseBenchArgs(process.argv.slice(2), AGENTS);
  const usage = BENCH_USAGE.replace("NAMES", benchSelectors(AGENTS).join(", "));
  if ("help" in parsed) {
    process.stdout.write(`${usage}\n`);
    process.exit(0);
  }
  if ("error" in parsed) {
    process.stderr.write(`bench: ${parsed.error}\n\n${usage}\n`);
    process.exit(2);
  }
  return parsed;
}
const asJson = args.json;
const only = args.only;
const RUNS = args.runs;

export interface BenchEntry {
  name: string;
  what: string;
  value: number;
  baseline: number | null;
  unit: string;
  ratio: number | null;
  /** What the value must meet (`≤ 2x`, `< 250 MB`); NO_TARGET for an informational row. */
  target: string;
  /** Whether the value met its target; null: an informational row, which has none and cannot fail. */
  pass: boolean | null;
  note?: string;
}
const entries: BenchEntry[] = [];

/** The target of an informational row (pass null): the value is reported, nothing to meet, never a failure. */
export const NO_TARGET = "no target";

/** A row's ok column: ✔ met its target, ✖ missed it, "info" an informational row (no target, so no verdict). */
export const okMark = (e: Pick<BenchEntry, "pass">): string => (e.pass === null ? "info" : e.pass ? "✔" : "✖");

/** The bench fails (exit 1) when a row missed its target; informational rows never fail it. */
export const benchFailed = (rows: readonly Pick<BenchEntry, "pass">[]): boolean => rows.some((e) => e.pass === false);

/** The table the bench prints without --json: one line per row, then each row's note. */
export function benchTable(rows: readonly BenchEntry[]): string {
  const cells = [["entry", "value", "baseline", "ratio", "target", "ok"], ...rows.map((e) => [e.name, `${e.value} ${e.unit}`, e.baseline === null ? "" : `${e.baseline} ${e.unit}`, e.ratio === null ? "" : `${e.ratio}x`, e.target, okMark(e)])];
  const widths = cells[0]!.map((_, i) => Math.max(...cells.map((r) => r[i]!.length)));
  const lines = cells.map((r) => r.map((c, i) => c.padEnd(widths[i]!)).join("  ").trimEnd());
  for (const e of rows) if (e.note) lines.push(`  ${e.name}: ${e.note}`);
  return `${lines.join("\n")}\n`;
}

interface Measured {
  wallMs: number;
  peakRssMb: number;
  code: number;
  stdout: string;
}

/** Run a command, sampling the RSS of its whole process tree (the sidecar is a child) every 25 ms. */
async function measure(cmd: string[], opts: { env?: Record<string, string>; cwd?: string; stdin?: string; sampleMemory?: boolean } = {}): Promise<Measured> {
  const started = performance.now();
  const p = Bun.spawn(cmd, {
    cwd: opts.cwd,
    env: { ...process.env, ...opts.env } as Record<string, string>,
    stdin: opts.stdin ? new TextEncoder().encode(opts.stdin) : "ignore",
    stdout: "pipe",
    stderr: "ignore",
  });
  let peak = 0;
  // Sampling walks /proc and costs CPU: only where memory is reported, so short commands are timed undisturbed.
  const timer = opts.sampleMemory
    ? setInterval(() => {
        peak = Math.max(peak, treeRssKb(p.pid));
      }, 25)
    : undefined;
  const [stdout, code] = await Promise.all([new Response(p.stdout).text(), p.exited]);
  clearInterval(timer);
  return { wallMs: performance.now() - started, peakRssMb: peak / 1024, code, stdout };
}

export const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function medianOf(n: number, f: () => Promise<Measured>): Promise<{ wallMs: number; peakRssMb: number }> {
  const walls: number[] = [];
  const peaks: number[] = [];
  for (let i = 0; i < n; i++) {
    const m = await f();
    if (m.code !== 0) throw new Error(`benchmark command failed (exit ${m.code}): ${m.stdout.slice(0, 500)}`);
    walls.push(m.wallMs);
    peaks.push(m.peakRssMb);
  }
  return { wallMs: median(walls), peakRssMb: Math.max(...peaks) };
}

/** Median wall time of each command, the commands run in turns (a, b, a, b, ...) `n` times each. */
async function alternatingMedians(n: number, fs: (() => Promise<Measured>)[]): Promise<number[]> {
  const walls = fs.map(() => [] as number[]);
  for (let i = 0; i < n; i++) {
    for (const [k, f] of fs.entries()) {
      const m = await f();
      if (m.code !== 0) throw new Error(`benchmark command failed (exit ${m.code}): ${m.stdout.slice(0, 500)}`);
      walls[k]!.push(m.wallMs);
    }
  }
  return walls.map(median);
}

function ratioEntry(name: string, what: string, value: number, baseline: number, maxRatio: number, unit = "ms", note?: string): void {
  const ratio = value / baseline;
  entries.push({ name, what, value: round(value), baseline: round(baseline), unit, ratio: round(ratio, 2), target: `≤ ${maxRatio}x`, pass: ratio <= maxRatio, note });
}
function valueEntry(name: string, what: string, value: number, unit: string, target: string, pass: boolean | null, note?: string): void {
  entries.push({ name, what, value: round(value), baseline: null, unit, ratio: null, target, pass, note });
}
const round = (n: number, d = 1) => Math.round(n * 10 ** d) / 10 ** d;
const want = (name: string) => !only || only.some((o) => name.startsWith(o));
/** A group of rows (`worker.rss` makes worker.rss-4 and -8) asked for by its own prefix or by one of its row names. */
const wantRows = (group: string) => want(group) || !!only?.some((o) => o.startsWith(group));

async function main() {
  if (!existsSync(bin)) throw new Error(`${bin} is missing: run 'bun run build' first`);
  const scratch = await mkdtemp(join(tmpdir(), "aos-bench-"));
  const cache = join(scratch, "cache");
  const env = { PAPERCLIP_AOS_CACHE: cache, PAPERCLIP_AOS_HOME: join(scratch, "state"), NO_COLOR: "1" };
  try {
    // Extract once so every later entry measures a warm cache (the first run is reported on its own).
    if (want("binary")) {
      const first = await measure([bin, "exec", "--", "true"], { env, cwd: scratch });
      valueEntry("binary.size", "size of dist/paperclip-aos", statSync(bin).size / 2 ** 20, "MB", NO_TARGET, null);
      valueEntry("binary.first-run", "first `exec -- true` (extracts the runtime)", first.wallMs, "ms", NO_TARGET, null);
      valueEntry("binary.cache-size", "extracted runtime in the cache dir", dirSizeMb(join(cache, "rt")), "MB", NO_TARGET, null);
    } else await measure([bin, "exec", "--", "true"], { env, cwd: scratch });

    if (want("help")) {
      log("bench: --help");
      const help = await medianOf(RUNS * 4, () => measure([bin, "--help"], { env }));
      const bare = await medianOf(RUNS * 4, () => measure([process.execPath, "-e", "0"], { env }));
      ratioEntry("help", "compiled `--help` vs `bun -e 0`", help.wallMs, bare.wallMs, 1.5);
    }

    if (want("exec")) {
      log("bench: exec");
      const bareScript = join(scratch, "bare-exec.ts");
      const assets = join(cache, "rt");
      await writeFile(
        bareScript,
        `import { AgentOs } from ${JSON.stringify(Bun.resolveSync("@rivet-dev/agentos-core", root))};
const rt = ${JSON.stringify(assets)};
const files = (await import("node:fs")).readdirSync(rt);
process.env.AGENTOS_SIDECAR_BIN = rt + "/" + files.find((f) => f.startsWith("agentos-sidecar-") && !f.endsWith(".ok"));
const software = files.filter((f) => f.endsWith(".aospkg") && !/^(pi|opencode)-/.test(f)).map((f) => ({ packagePath: rt + "/" + f }));
const sidecar = await AgentOs.createSidecar();
const vm = await AgentOs.create({ sidecar: { kind: "explicit", handle: sidecar }, defaultSoftware: false, software });
const r = await vm.process.exec("echo hi", { output: { capture: "all" } });
process.stdout.write(r.stdout ?? "");
await Promise.race([sidecar.dispose(), new Promise((r) => setTimeout(r, 300))]);
process.exit(0);
`,
      );
      const ours = await medianOf(RUNS, () => measure([bin, "exec", "--", "echo hi"], { env, cwd: scratch }));
      const bare = await medianOf(RUNS, () => measure([process.execPath, bareScript], { env, cwd: scratch }));
      ratioEntry("exec.cold", "`exec -- echo hi` (new process) vs a bare AgentOs.create + exec script", ours.wallMs, bare.wallMs, 1.2);
    }

    if (want("caps")) {
      log("bench: caps");
      const policy = join(scratch, "policy-200.json");
      const read = Array.from({ length: 80 }, (_, i) => `/workspace/dir${i}/**`);
      const write = Array.from({ length: 60 }, (_, i) => `/workspace/out${i}/**`);
      const fetch = Array.from({ length: 40 }, (_, i) => `host${i}.example.com:443`);
      const env2 = Array.from({ length: 20 }, (_, i) => `VAR_${i}`);
      await writeFile(policy, JSON.stringify({ version: 1, allow: { "fs.read": read, "fs.write": write, "network.fetch": fetch, "env.read": env2 } }));
      const help = await medianOf(RUNS * 2, () => measure([bin, "--help"], { env }));
      const check = await medianOf(RUNS * 2, () => measure([bin, "caps", "check", policy], { env }));
      const testCmd = await medianOf(RUNS * 2, () => measure([bin, "caps", "test", policy, "--write", "/workspace/out7/file.txt"], { env }));
      ratioEntry("caps.check", "`caps check` on a 200-rule policy vs `--help`", check.wallMs, help.wallMs, 5, "ms", `absolute ${round(check.wallMs)} ms (target well under 50 ms)`);
      ratioEntry("caps.test", "`caps test --write` on the same policy vs `--help`", testCmd.wallMs, help.wallMs, 5, "ms", `absolute ${round(testCmd.wallMs)} ms (target well under 50 ms)`);
    }

    if (want("tool")) {
      log("bench: tool");
      const repo = join(scratch, "repo");
      await mkdir(repo);
      const git = (...a: string[]) => Bun.spawnSync(["git", "-C", repo, ...a], { env: { ...process.env, GIT_AUTHOR_NAME: "b", GIT_AUTHOR_EMAIL: "b@x", GIT_COMMITTER_NAME: "b", GIT_COMMITTER_EMAIL: "b@x" } });
      git("init", "-q");
      for (let i = 0; i < 50; i++) await writeFile(join(repo, `f${i}.txt`), `${i}\n`);
      git("add", ".");
      git("commit", "-qm", "init");
      await writeFile(join(repo, "f1.txt"), "changed\n");
      await writeFile(join(repo, "new.txt"), "new\n");
      const bare = await bareGitBinary(scratch, repo);
      // Taken in turns, so a load that comes and goes on a shared machine moves all three alike.
      const [ours, plain, floor] = await alternatingMedians(RUNS * 4, [
        () => measure([bin, "tool", "invoke", "git.status", "--input", "{}", "--cwd", repo], { env }),
        () => measure(["git", "-C", repo, "status", "--porcelain=v2", "--branch"], { env }),
        () => measure([bare], { env }),
      ]);
      ratioEntry(
        "tool.git-status",
        "`tool invoke git.status` vs `git status --porcelain=v2`",
        ours!,
        plain!,
        3,
        "ms",
        `a bare compiled Bun binary that only spawns the same git status takes ${round(floor!)} ms (${round(floor! / plain!, 2)}x): ` +
          `the floor of any Bun binary that runs git; ours is ${round(ours! - floor!)} ms over it (src/tools/README.md, "Benchmark")`,
      );
    }

    if (want("run") || only?.some((o) => o.startsWith("run."))) {
      log("bench: run (heartbeats)");
      await benchHeartbeat(scratch, env);
    }

    if (want("worker") || only?.some((o) => o.startsWith("worker."))) {
      log("bench: worker (serve: cold, resumed, memory at 4 and 8, 20 at once)");
      await benchWorker(scratch, env);
    }

    if (want("engine")) {
      log("bench: engine (a heartbeat through rivet-engine and two workers vs a local warm worker; 20 at once)");
      const { engineBench } = await import("./bench-engine.ts");
      entries.push(...(await engineBench({ bin, runs: heartbeatRuns(), scratch: join(scratch, "engine"), cache, log })));
    }

    if (want("snapshot")) {
      log("bench: snapshot (5,000 files, 100 MB)");
      const { snapshotBench } = await import("./bench-snapshot.ts");
      entries.push(...(await snapshotBench({ bin, runs: Math.max(3, Math.ceil(RUNS / 2)), scratch: join(scratch, "snap"), cache, log })));
    }
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }

  if (asJson) process.stdout.write(`${JSON.stringify({ runs: RUNS, entries }, null, 2)}\n`);
  else process.stdout.write(benchTable(entries));
  process.exit(benchFailed(entries) ? 1 : 0);
}

/**
 * The floor for the tool row: a compiled Bun binary (the build's own flags: bytecode, minified ESM, no autoload)
 * whose whole program spawns `git status` on the repository and prints its output.
 */
async function bareGitBinary(scratch: string, repo: string): Promise<string> {
  const entry = join(scratch, "bare-git.ts");
  const outfile = join(scratch, "bare-git");
  await writeFile(
    entry,
    `const p = Bun.spawn(["git", "-C", ${JSON.stringify(repo)}, "status", "--porcelain=v2", "--branch"], { stdout: "pipe", stderr: "pipe" });
const [out] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
console.log(out);
`,
  );
  const r = await Bun.build({
    entrypoints: [entry],
    compile: { target: "bun-linux-x64", outfile, autoloadDotenv: false, autoloadBunfig: false },
    bytecode: true,
    minify: true,
    format: "esm",
  });
  if (!r.success) throw new Error(`building the bare binary failed: ${r.logs.join("\n")}`);
  return outfile;
}

/** The bench's heartbeat: a 3-step script (a shell call, a write, an answer). */
const STEPS = [
  { tool: "bash", input: { command: "ls && cat README.md" } },
  { tool: "write", input: { path: "notes.txt", content: "benchmark\n" } },
  { text: "done" },
];
const heartbeatRuns = () => Math.max(3, Math.ceil(RUNS / 2));

async function scriptFileIn(scratch: string, steps: unknown[] = STEPS, name = "script-3.json"): Promise<string> {
  const file = join(scratch, name);
  await writeFile(file, JSON.stringify({ steps }));
  return file;
}

/**
 * Per agent, a 3-step script (a shell step, a file write, the answer) through `run --agent X` in agentOS, cold and
 * resumed, against the same script through that agent's CLI on the host with the same gateway code. An agent whose
 * host CLI fails is reported as such; the others still run.
 */
async function benchHeartbeat(scratch: string, env: Record<string, string>): Promise<void> {
  const scriptFile = await scriptFileIn(scratch);
  const runs = heartbeatRuns();

  for (const agent of AGENTS) {
    if (!want(`run.${agent}`) && !want("run")) continue;
    log(`bench: run --agent ${agent}`);
    try {
      const cold: number[] = [];
      const resumed: number[] = [];
      let peak = 0;
      for (let i = 0; i < runs; i++) {
        const ws = join(scratch, `${agent}-ws-${i}`);
        await mkdir(ws, { recursive: true });
        await writeFile(join(ws, "README.md"), "bench\n");
        const home = join(scratch, `${agent}-home-${i}`);
        const args = [bin, "run", "--worker", "off", "--agent", agent, "--cwd", ws, "--model", `scripted:${scriptFile}`, "--prompt", "do it", "--task-key", "bench"];
        const a = await measure(args, { env: { ...env, PAPERCLIP_AOS_HOME: home }, sampleMemory: true });
        const b = await measure(args, { env: { ...env, PAPERCLIP_AOS_HOME: home }, sampleMemory: true });
        if (a.code !== 0 || b.code !== 0) throw new Error(`run failed: ${a.stdout.slice(-300)} ${b.stdout.slice(-300)}`);
        if (!b.stdout.includes('"resumed":true')) throw new Error("the second heartbeat did not resume");
        cold.push(a.wallMs);
        resumed.push(b.wallMs);
        peak = Math.max(peak, a.peakRssMb, b.peakRssMb);
      }

      // Each host CLI is measured once per bench run (the worker rows compare against it too).
      const direct = await directCli(agent, scratch);
      ratioEntry(`run.${agent}.cold`, `cold heartbeat, 3-step script: \`run --agent ${agent}\` in agentOS vs its CLI on the host`, median(cold), direct.cold, 2, "ms", "scripted model: model wait is ~0, so wall time is the overhead");
      ratioEntry(`run.${agent}.resumed`, `resumed heartbeat, same: \`run --task-key\` again vs the CLI's continue`, median(resumed), direct.resumed, 1.5);
      const maxMb = agent === "pi" ? 700 : 1100;
      valueEntry(`run.${agent}.peak-memory`, `peak RSS of the run (host process + sidecar), ${agent}`, peak, "MB", `< ${maxMb} MB`, peak < maxMb);
    } catch (e) {
      valueEntry(`run.${agent}.cold`, `heartbeat bench for ${agent}`, 0, "ms", "runs", false, `failed: ${(e as Error).message.slice(0, 300)}`);
    }
  }
}

/**
 * The direct path, measured once per agent and bench run: the agent's own CLI on the host (Paperclip's *_local
 * adapters), the same script, the same gateway code, through eval's host baseline (the driver's hostCli). Medians
 * of a cold heartbeat and a continued one.
 */
const directResults = new Map<string, Promise<{ cold: number; resumed: number }>>();
function directCli(agent: string, scratch: string): Promise<{ cold: number; resumed: number }> {
  let result = directResults.get(agent);
  if (!result) {
    result = (async () => {
      const cold: number[] = [];
      const resumed: number[] = [];
      for (let i = 0; i < heartbeatRuns(); i++) {
        const pair = await hostPair(agent, scratch, `direct-${i}`);
        cold.push(pair.cold);
        resumed.push(pair.resumed);
      }
      return { cold: median(cold), resumed: median(resumed) };
    })();
    directResults.set(agent, result);
  }
  return result;
}

/** One cold heartbeat and its resume through the agent's CLI on the host, in a fresh workspace and home named by `tag`. */
async function hostPair(agent: string, scratch: string, tag: string): Promise<{ cold: number; resumed: number }> {
  const { hostBaseline } = await import("../src/eval/host-baseline.ts");
  const host = hostBaseline(agent);
  if ("missing" in host) throw new Error(host.missing);
  const ws = join(scratch, `${agent}-${tag}-ws`);
  const home = join(scratch, `${agent}-${tag}-home`);
  await mkdir(ws, { recursive: true });
  await writeFile(join(ws, "README.md"), "bench\n");
  const out = { cold: 0, resumed: 0 };
  for (const pass of ["cold", "resumed"] as const) {
    const s = await host.baseline.heartbeat({ workspace: ws, home, steps: STEPS, resume: pass === "resumed", prompt: "do it" });
    if (s.exitCode !== 0) throw new Error(`the ${agent} CLI on the host failed (${s.errorCode}, exit ${s.exitCode})`);
    out[pass] = s.wallMs;
  }
  return out;
}

/**
 * The warm worker: `serve` in its own state dir, then the same heartbeat through it (a client process per heartbeat,
 * as Paperclip would start one) against Pi on the host; memory of the worker's process tree with 4 and 8 heartbeats
 * at once (their model answers after a pause so all are live together); 20 at once, more than its concurrency.
 */
async function benchWorker(scratch: string, env: Record<string, string>): Promise<void> {
  const home = join(scratch, "worker-state");
  const wenv = { ...env, PAPERCLIP_AOS_HOME: home };
  const started = performance.now();
  const serve = Bun.spawn([bin, "serve", "--concurrency", "8", "--queue", "64"], { env: { ...process.env, ...wenv }, stdin: "ignore", stdout: "ignore", stderr: "pipe" });
  try {
    await (await import("../src/worker/index.ts")).untilServing(serve.stderr as ReadableStream<Uint8Array>, "worker ready");
    valueEntry("worker.warm-up", "`serve` start until ready (a sidecar warmed: first shell, a Pi session)", performance.now() - started, "ms", NO_TARGET, null);

    const scriptFile = await scriptFileIn(scratch);
    let n = 0;
    const workspace = async () => {
      const ws = join(scratch, `worker-ws-${n++}`);
      await mkdir(ws, { recursive: true });
      await writeFile(join(ws, "README.md"), "bench\n");
      return ws;
    };
    const runArgs = (ws: string, key: string, file = scriptFile, agent = "pi") => [bin, "run", "--agent", agent, "--cwd", ws, "--model", `scripted:${file}`, "--prompt", "do it", "--task-key", key];
    // Every agent, cold and resumed through the worker, against its own CLI on the host. The worker warms a Pi
    // session ahead; the other agents pay their first session on the sidecar in their first heartbeat.
    // The worker learns a policy from its first heartbeat and makes spare VMs for it after the result: one heartbeat
    // of the bench's policy first, so the cold rows measure what a worker that has seen the policy does. Before each
    // measured heartbeat the worker is left to finish its refills (heartbeats are minutes apart in Paperclip).
    // (A row's agent waits for a spare of its own policies, once the worker knows one: another agent's does not serve it.)
    const { untilSettled } = await import("../src/worker/index.ts");
    const settle = (agent?: string) => untilSettled(() => workerStatus(wenv), { agent });
    for (const agent of AGENTS) {
      if (!want(`worker.${agent}`)) continue;
      log(`bench: worker, --agent ${agent}`);
      try {
        const cold: number[] = [];
        const resumed: number[] = [];
        // The host CLI runs between the worker's heartbeats (the worker settled, idle), so both sides of the ratio see
        // the same machine: on a shared machine the load moves by a third within minutes.
        const hostCold: number[] = [];
        const hostResumed: number[] = [];
        const teach = await measure(runArgs(await workspace(), `teach-${agent}`, scriptFile, agent), { env: wenv });
        if (teach.code !== 0) throw new Error(`run via the worker failed: ${teach.stdout.slice(-300)}`);
        const served = { cold: 0, resumedSpare: 0, prepared: 0 };
        for (let i = 0; i < heartbeatRuns(); i++) {
          const ws = await workspace();
          const s0 = await settle(agent);
          const a = await measure(runArgs(ws, `cold-${agent}-${i}`, scriptFile, agent), { env: wenv });
          const s1 = await settle(agent);
          const b = await measure(runArgs(ws, `cold-${agent}-${i}`, scriptFile, agent), { env: wenv });
          const s2 = await workerStatus(wenv);
          served.cold += (s1?.warm.spares.hits ?? 0) - (s0?.warm.spares.hits ?? 0);
          // A resumed OpenCode heartbeat (transcript replay: a new agentOS session each time) takes a spare too.
          served.resumedSpare += (s2?.warm.spares.hits ?? 0) - (s1?.warm.spares.hits ?? 0);
          served.prepared += (s2?.warm.resumable.hits ?? 0) - (s1?.warm.resumable.hits ?? 0);
          if (a.code !== 0 || b.code !== 0) throw new Error(`run via the worker failed: ${a.stdout.slice(-300)} ${b.stdout.slice(-300)}`);
          if (!b.stdout.includes('"resumed":true')) throw new Error("the second heartbeat via the worker did not resume");
          cold.push(a.wallMs);
          resumed.push(b.wallMs);
          await settle(agent);
          const h = await hostPair(agent, scratch, `worker-host-${i}`);
          hostCold.push(h.cold);
          hostResumed.push(h.resumed);
        }
        const direct = { cold: median(hostCold), resumed: median(hostResumed) };
        ratioEntry(`worker.${agent}.cold`, `cold heartbeat via a warm worker (\`serve\`; a client process per run), --agent ${agent}, vs its CLI on the host`, median(cold), direct.cold, 1.0, "ms", `${agent === "pi" ? "moonshot ≤ 0.8x; " : ""}${served.cold} of ${cold.length} from a spare VM`);
        ratioEntry(`worker.${agent}.resumed`, `resumed heartbeat via the worker, --agent ${agent}, vs the CLI's continue`, median(resumed), direct.resumed, 1.0, "ms", `${agent === "pi" ? "moonshot ≤ 0.85x; " : ""}${served.prepared} of ${resumed.length} on the session's prepared VM${served.resumedSpare ? `, ${served.resumedSpare} on a spare VM` : ""}`);
      } catch (e) {
        valueEntry(`worker.${agent}.cold`, `worker heartbeat bench for ${agent}`, 0, "ms", "runs", false, `failed: ${(e as Error).message.slice(0, 300)}`);
      }
    }

    // Memory: N heartbeats whose model pauses 4 s, so all N sessions are open at once. The worker has seen the
    // policy first (its spares are made), whether or not the worker.pi rows ran before: the same state either way.
    const holdFile = await scriptFileIn(scratch, [{ tool: "bash", input: { command: "ls" } }, { text: "held", delayMs: 4000 }], "script-hold.json");
    if (wantRows("worker.rss") && !(await workerStatus(wenv))?.warm.spares.policies.length) {
      const teach = await measure(runArgs(await workspace(), "mem-teach", holdFile), { env: wenv });
      if (teach.code !== 0) throw new Error(`run via the worker failed: ${teach.stdout.slice(-300)}`);
    }
    for (const at of wantRows("worker.rss") ? [4, 8] : []) {
      await settle();
      const idle = treeRssKb(serve.pid) / 1024;
      let peak = 0;
      let hostAtPeak = 0;
      const timer = setInterval(() => {
        const now = treeRssKb(serve.pid) / 1024;
        if (now > peak) [peak, hostAtPeak] = [now, (procStat(serve.pid)?.rssKb ?? 0) / 1024];
      }, 100);
      const results = await Promise.all(Array.from({ length: at }, async (_, i) => measure(runArgs(await workspace(), `mem-${at}-${i}`, holdFile), { env: wenv })));
      clearInterval(timer);
      const failed = results.filter((r) => r.code !== 0).length;
      const per = peak / at;
      valueEntry(`worker.rss-${at}`, `peak RSS of the worker tree per heartbeat, ${at} at once`, per, "MB", "< 250 MB", failed === 0 && per < 250, `peak ${round(peak)} MB for ${at} (the worker process ${round(hostAtPeak)} MB of it; idle worker ${round(idle)} MB; ${round((peak - idle) / at)} MB each above idle)${failed ? `; ${failed} failed` : ""}`);
    }

    // 20 at once: 8 run, 12 wait in the queue; every one must succeed and write its own workspace.
    if (!wantRows("worker.concurrent")) return;
    await settle();
    let peak = 0;
    const timer = setInterval(() => (peak = Math.max(peak, treeRssKb(serve.pid) / 1024)), 100);
    const t0 = performance.now();
    const many = await Promise.all(
      Array.from({ length: 20 }, async (_, i) => {
        const ws = await workspace();
        const m = await measure(runArgs(ws, `many-${i}`), { env: wenv });
        return m.code === 0 && existsSync(join(ws, "notes.txt"));
      }),
    );
    const wall = performance.now() - t0;
    clearInterval(timer);
    const ok = many.filter(Boolean).length;
    valueEntry("worker.concurrent-20", "20 scripted heartbeats at once through the worker (concurrency 8): wall time", wall, "ms", "all 20 succeed", ok === 20, `${ok}/20 succeeded; ${round(wall / 20)} ms per heartbeat; peak RSS of the worker tree ${round(peak)} MB`);
  } finally {
    serve.kill("SIGTERM");
    await Promise.race([serve.exited, Bun.sleep(25_000)]);
    serve.kill("SIGKILL");
  }
}

/** `serve --status --json` of the bench's worker (undefined if it does not answer). */
async function workerStatus(env: Record<string, string>): Promise<any> {
  const p = Bun.spawnSync([bin, "serve", "--status", "--json"], { env: { ...process.env, ...env } });
  try {
    return JSON.parse(p.stdout.toString());
  } catch {
    return undefined;
  }
}

function dirSizeMb(dir: string): number {
  let total = 0;
  for (const e of readdirSync(dir, { withFileTypes: true, recursive: true })) if (e.isFile()) total += statSync(join(e.parentPath, e.name)).size;
  return total / 2 ** 20;
}

if (import.meta.main) await main();
