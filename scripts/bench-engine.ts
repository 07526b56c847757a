/**
 * Engine bench entries (issue 14), run by scripts/bench.ts (`bun run bench --only=engine`): a real rivet-engine
 * (`engine start`) and two workers (`worker --engine`) as separate processes, against a local warm worker (`serve`)
 * in the same invocation, so a loaded machine moves both.
 *
 * - engine.heartbeat.cold / .resumed: a 3-step scripted Pi heartbeat through `run --engine URL` against the same
 *   through `run` handed to the local warm worker. Reported as a ratio (no target yet: the first measurement).
 * - engine.concurrent-20: 20 heartbeats at once over the two workers (4 at once each): wall time, all must succeed and
 *   write their workspace, peak RSS of the engine and both workers.
 *
 * Without the engine parts installed (`paperclip-aos engine install`, or PAPERCLIP_AOS_RIVET_DIR) one entry says so.
 */
import { existsSync } from "node:fs";
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { locateRivet } from "../src/rivet/index.ts";
import { treeRssKb } from "../src/runtime/index.ts";
import { untilServing } from "../src/worker/index.ts";
import { median, NO_TARGET, type BenchEntry } from "./bench.ts";

export interface EngineBenchOptions {
  bin: string;
  runs: number;
  scratch: string;
  /** The bench's cache dir (the runtime is extracted there already). */
  cache: string;
  log: (m: string) => void;
}

const STEPS = [
  { tool: "bash", input: { command: "ls && cat README.md" } },
  { tool: "write", input: { path: "notes.txt", content: "benchmark\n" } },
  { text: "done" },
];
const round = (n: number, d = 1) => Math.round(n * 10 ** d) / 10 ** d;

export async function engineBench(opts: EngineBenchOptions): Promise<BenchEntry[]> {
  const entries: BenchEntry[] = [];
  const parts = locateRivet();
  if (!parts.found) {
    entries.push({ name: "engine", what: "heartbeats through a Rivet engine", value: 0, baseline: null, unit: "ms", ratio: null, target: NO_TARGET, pass: null, note: `not measured: the engine parts are not installed (${parts.reason}); run 'paperclip-aos engine install' or set PAPERCLIP_AOS_RIVET_DIR` });
    return entries;
  }
  const { scratch, bin } = opts;
  await mkdir(scratch, { recursive: true });
  // The engine parts are found through PAPERCLIP_AOS_RIVET_DIR by every process, whatever their cache dir.
  const base = { ...process.env, PAPERCLIP_AOS_CACHE: opts.cache, PAPERCLIP_AOS_RIVET_DIR: parts.dir, NO_COLOR: "1" } as Record<string, string>;
  const script = join(scratch, "script-3.json");
  await writeFile(script, JSON.stringify({ steps: STEPS }));
  let n = 0;
  const workspace = async () => {
    const ws = join(scratch, `ws-${n++}`);
    await mkdir(ws, { recursive: true });
    await writeFile(join(ws, "README.md"), "bench\n");
    return ws;
  };
  const runArgs = (ws: string, key: string, extra: string[]) => [bin, "run", ...extra, "--agent", "pi", "--cwd", ws, "--model", `scripted:${script}`, "--prompt", "do it", "--task-key", key];

  const procs: ReturnType<typeof Bun.spawn>[] = [];
  const start = async (args: string[], home: string, marker: string, stream: "stdout" | "stderr") => {
    const p = Bun.spawn([bin, ...args], { env: { ...base, PAPERCLIP_AOS_HOME: home }, stdin: "ignore", stdout: stream === "stdout" ? "pipe" : "ignore", stderr: stream === "stderr" ? "pipe" : "ignore" });
    procs.push(p);
    const text = await untilServing((stream === "stdout" ? p.stdout : p.stderr) as ReadableStream<Uint8Array>, marker);
    return { p, text };
  };
  try {
    // The local baseline: a warm worker (serve) in a state dir of its own.
    const localHome = join(scratch, "local-state");
    opts.log("bench: engine: the local warm worker (baseline)");
    const serve = await start(["serve", "--concurrency", "8"], localHome, "worker ready", "stderr");
    const local = { cold: [] as number[], resumed: [] as number[] };
    for (let i = 0; i < opts.runs; i++) {
      const ws = await workspace();
      const env = { ...base, PAPERCLIP_AOS_HOME: localHome };
      const a = await timed(runArgs(ws, `local-${i}`, []), env);
      const b = await timed(runArgs(ws, `local-${i}`, []), env);
      if (!a.ok || !b.ok || !b.stdout.includes('"resumed":true')) throw new Error(`a heartbeat through the local worker failed: ${a.stdout.slice(-300)} ${b.stdout.slice(-300)}`);
      local.cold.push(a.ms);
      local.resumed.push(b.ms);
    }
    // Stopped before the engine part, so the two never compete for the machine.
    serve.p.kill("SIGTERM");
    await Promise.race([serve.p.exited, Bun.sleep(25_000)]);

    // The engine and two workers, each a process of its own.
    opts.log("bench: engine: rivet-engine and two workers");
    const port = 21000 + Math.floor(Math.random() * 9000);
    const engine = await start(["engine", "start", "--dir", join(scratch, "engine"), "--port", String(port), "--json"], join(scratch, "engine-state"), "\n", "stdout");
    const url = (JSON.parse(engine.text.split("\n")[0]!) as { endpoint: string }).endpoint;
    const workers = [];
    for (const name of ["bench-w1", "bench-w2"]) workers.push(await start(["worker", "--engine", url, "--name", name], join(scratch, `${name}-state`), "worker ready", "stderr"));
    const clientEnv = { ...base, PAPERCLIP_AOS_HOME: join(scratch, "client-state") };
    const remote = { cold: [] as number[], resumed: [] as number[] };
    for (let i = 0; i < opts.runs; i++) {
      const ws = await workspace();
      const a = await timed(runArgs(ws, `engine-${i}`, ["--engine", url]), clientEnv);
      const b = await timed(runArgs(ws, `engine-${i}`, ["--engine", url]), clientEnv);
      if (!a.ok || !b.ok || !b.stdout.includes('"resumed":true')) throw new Error(`a heartbeat through the engine failed: ${a.stdout.slice(-300)} ${b.stdout.slice(-300)}`);
      remote.cold.push(a.ms);
      remote.resumed.push(b.ms);
    }
    const ratio = (name: string, what: string, v: number, b: number) =>
      entries.push({ name, what, value: round(v), baseline: round(b), unit: "ms", ratio: round(v / b, 2), target: NO_TARGET, pass: null });
    ratio("engine.heartbeat.cold", "cold Pi heartbeat (3-step script): `run --engine` (engine + 2 workers) vs `run` through a local warm worker", median(remote.cold), median(local.cold));
    ratio("engine.heartbeat.resumed", "resumed heartbeat, same task key: through the engine vs through the local warm worker", median(remote.resumed), median(local.resumed));

    // 20 at once over the two workers.
    opts.log("bench: engine: 20 heartbeats at once over two workers");
    const pids = [engine.p.pid, ...workers.map((w) => w.p.pid)];
    let peak = 0;
    const timer = setInterval(() => (peak = Math.max(peak, pids.reduce((s, pid) => s + treeRssKb(pid), 0) / 1024)), 100);
    const t0 = performance.now();
    const many = await Promise.all(
      Array.from({ length: 20 }, async (_, i) => {
        const ws = await workspace();
        const r = await timed(runArgs(ws, `many-${i}`, ["--engine", url]), clientEnv);
        return r.ok && existsSync(join(ws, "notes.txt"));
      }),
    );
    const wall = performance.now() - t0;
    clearInterval(timer);
    const ok = many.filter(Boolean).length;
    entries.push({
      name: "engine.concurrent-20",
      what: "20 scripted heartbeats at once through the engine over two workers (4 at once each): wall time",
      value: round(wall),
      baseline: null,
      unit: "ms",
      ratio: null,
      target: "all 20 succeed",
      pass: ok === 20,
      note: `${ok}/20 succeeded; ${round(wall / 20)} ms per heartbeat; peak RSS of the engine and both workers ${round(peak)} MB`,
    });
  } catch (e) {
    entries.push({ name: "engine", what: "heartbeats through a Rivet engine", value: 0, baseline: null, unit: "ms", ratio: null, target: "runs", pass: false, note: `failed: ${(e as Error).message.slice(0, 300)}` });
  } finally {
    for (const p of procs.reverse()) p.kill("SIGTERM");
    await Promise.race([Promise.all(procs.map((p) => p.exited)), Bun.sleep(30_000)]);
    for (const p of procs) p.kill("SIGKILL");
  }
  return entries;
}

async function timed(cmd: string[], env: Record<string, string>): Promise<{ ms: number; ok: boolean; stdout: string }> {
  const t = performance.now();
  const p = Bun.spawn(cmd, { env, stdin: "ignore", stdout: "pipe", stderr: "ignore" });
  const [stdout, code] = await Promise.all([new Response(p.stdout).text(), p.exited]);
  return { ms: performance.now() - t, ok: code === 0, stdout };
}
