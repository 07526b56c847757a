import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync } from "node:fs";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { untilServing } from "../../src/worker/index.ts";
import { binPath, privateCache, protocolEvents, removeTempDirs, runBin, stopServe, tempDir } from "./helpers.ts";

/**
 * Spares that give their memory back (src/worker/spares.ts), through the compiled binary. Making way for load
 * (`yieldToLoad`): a worker that has spares of two policies gets a burst of heartbeats of one of them; the other
 * policy's idle spare is disposed while the burst runs (its memory is the burst's), and a heartbeat of that policy
 * afterwards still runs with its own policy. `--concurrency 1` makes the burst queue, which is the worker's "busy"
 * (Slots.busy) on any number of cores. Retired unused (`--spares-idle`): a policy no heartbeat has had for that long
 * keeps no spare, the one served last keeps its own.
 */
let home: string;
let cache: string;
let serve: ReturnType<typeof Bun.spawn> | undefined;
const env = () => ({ PAPERCLIP_AOS_HOME: home, PAPERCLIP_AOS_CACHE: cache });

async function startServe(args: string[]) {
  home = await tempDir("aos-lhome-");
  const p = Bun.spawn([binPath(), "serve", ...args], { env: { ...process.env, ...env() }, stdin: "ignore", stdout: "ignore", stderr: "pipe" });
  await untilServing(p.stderr as ReadableStream<Uint8Array>, "worker ready");
  return p;
}

async function heartbeat(key: string, steps: unknown[], args: string[] = []) {
  const dir = await tempDir("aos-lscript-");
  const file = join(dir, "script.json");
  await writeFile(file, JSON.stringify({ steps }));
  const ws = await tempDir("aos-lws-");
  const r = await runBin(["run", "--cwd", ws, "--model", `scripted:${file}`, "--prompt", "go", "--task-key", key, ...args], { env: env() });
  return { ...r, ws, evs: r.stdout.trim() ? protocolEvents(r.stdout) : [] };
}

async function status(): Promise<any> {
  const r = await runBin(["serve", "--status", "--json"], { env: env() });
  expect(r.code).toBe(0);
  return JSON.parse(r.stdout);
}

/** The spares' status once `ok` holds for it (polled; nothing being made). */
async function sparesWhen(ok: (s: any) => boolean, what: string): Promise<any> {
  for (let i = 0; i < 480; i++) {
    const s = (await status()).warm.spares;
    if (s.building === 0 && ok(s)) return s;
    await Bun.sleep(250);
  }
  throw new Error(`${what}: ${JSON.stringify((await status()).warm.spares)}`);
}

const bothReady = () => sparesWhen((s) => s.policies.length === 2 && s.policies.every((p: any) => p.ready === 1), "the spares did not get ready");

const readOnly = ["--preset", "read-only"];

beforeAll(async () => {
  cache = await privateCache();
});

afterAll(async () => {
  await stopServe(serve);
  await removeTempDirs();
}, 60_000);

describe("serve: spares of other policies make way for a burst", () => {
  test("the other policy's idle spare is gone while the burst runs; a heartbeat of it afterwards keeps its own policy", async () => {
    serve = await startServe(["--spares", "2", "--concurrency", "1", "--resumable", "0"]);
    // The worker learns two policies (read-only, then the default) and makes a spare for each.
    expect((await heartbeat("teach-ro", [{ text: "ok" }], readOnly)).code).toBe(0);
    expect((await heartbeat("teach-rw", [{ text: "ok" }])).code).toBe(0);
    const before = await bothReady();
    expect(before.retired).toEqual({ load: 0, idle: 0 });
    // (Newest first: the read-only policy is the second.)
    const roKey = before.policies[1].key;

    // Three of the default policy at once: one runs, two queue; the second starts while the third waits.
    const held = [{ tool: "bash", input: { command: "echo burst" } }, { text: "held", delayMs: 3000 }];
    const burst = Promise.all(["b-1", "b-2", "b-3"].map((k) => heartbeat(k, held)));
    let during: any;
    for (let i = 0; i < 400 && !during; i++) {
      const s = (await status()).warm.spares;
      if (s.retired.load > 0) during = s;
      else await Bun.sleep(100);
    }
    const results = await burst;
    expect(results.map((r) => r.code)).toEqual([0, 0, 0]);
    expect(during, "no spare made way during the burst").toBeDefined();
    expect(during.retired).toEqual({ load: 1, idle: 0 });
    expect(during.policies.find((p: any) => p.key === roKey)).toMatchObject({ ready: 0 });

    // The read-only policy still holds for its next heartbeat (on a spare made again, or a VM of its own).
    const ro = await heartbeat("after", [{ tool: "bash", input: { command: "echo x > denied.txt" } }, { text: "tried" }], readOnly);
    expect(ro.code).toBe(0);
    expect(ro.evs.find((e) => e.type === "tool_result")!.isError).toBe(true);
    expect(existsSync(join(ro.ws, "denied.txt"))).toBe(false);
    expect(ro.evs.at(-1)).toMatchObject({ type: "result", subtype: "success" });
  }, 240_000);
});

describe("serve --spares-idle: a policy unused that long keeps no spare", () => {
  test("the older policy's spares are retired, the newest keeps its own; the retired policy's next heartbeat runs, and it gets spares again", async () => {
    await stopServe(serve);
    serve = await startServe(["--spares", "2", "--spares-idle", "3", "--resumable", "0"]);
    // Read-only first, then the default: after 3 s without a heartbeat the read-only policy's spares go.
    expect((await heartbeat("idle-ro", [{ text: "ok" }], readOnly)).code).toBe(0);
    expect((await heartbeat("idle-rw", [{ text: "ok" }])).code).toBe(0);
    const retired = await sparesWhen((s) => s.retired.idle >= 1 && s.policies[1]?.ready === 0 && s.policies[0]?.ready >= 1, "the unused policy's spares were not retired");
    const [rw, ro] = retired.policies;
    // A result makes spares again (refill): none for the retired policy.
    expect((await heartbeat("idle-rw-2", [{ text: "ok" }])).code).toBe(0);
    const after = await sparesWhen((s) => s.policies[0].hits === rw.hits + 1 && s.policies[0].ready >= 1, "no spare was made again for the newest policy");
    expect(after.policies[1]).toMatchObject({ key: ro.key, ready: 0 });

    // The retired policy's next heartbeat boots its own VM, keeps its policy, and its spares come back.
    const again = await heartbeat("idle-ro-2", [{ tool: "bash", input: { command: "echo x > denied.txt" } }, { text: "tried" }], readOnly);
    expect(again.code).toBe(0);
    expect(again.evs.find((e) => e.type === "tool_result")!.isError).toBe(true);
    expect(existsSync(join(again.ws, "denied.txt"))).toBe(false);
    const back = await sparesWhen((s) => s.policies[0]?.key === ro.key && s.policies[0].ready >= 1, "the policy used again got no spare");
    expect(back.policies[0].misses).toBe(ro.misses + 1);
  }, 240_000);
});

describe("serve --spares 1: a policy forgotten for a newer one", () => {
  test("its spare is gone from the ready list at once, and its next heartbeat (while the newer one runs) boots a VM of its own", async () => {
    await stopServe(serve);
    serve = await startServe(["--spares", "1", "--concurrency", "2", "--resumable", "0"]);
    expect((await heartbeat("old-ro", [{ text: "ok" }], readOnly)).code).toBe(0);
    const before = await sparesWhen((s) => s.ready === 1, "the first policy got no spare");
    const roKey = before.policies[0].key;

    // The default policy, held by its model: once the worker has learned it, the read-only one is forgotten.
    const newer = heartbeat("new-rw", [{ tool: "bash", input: { command: "echo newer" } }, { text: "held", delayMs: 4000 }]);
    let learned: any;
    for (let i = 0; i < 400 && !learned; i++) {
      const s = (await status()).warm.spares;
      if (s.policies[0]?.key !== roKey && s.policies.length === 1) learned = s;
      else await Bun.sleep(100);
    }
    expect(learned, "the newer policy was not learned").toBeDefined();
    expect(learned.ready).toBe(0);

    // The forgotten policy comes back while the newer heartbeat runs: it boots its own VM and keeps its policy.
    const back = await heartbeat("old-ro-2", [{ tool: "bash", input: { command: "echo x > denied.txt" } }, { text: "tried" }], readOnly);
    expect(back.code).toBe(0);
    expect(back.evs.find((e) => e.type === "tool_result")!.isError).toBe(true);
    expect(existsSync(join(back.ws, "denied.txt"))).toBe(false);
    expect((await status()).warm.spares.hits).toBe(before.hits);
    expect((await newer).code).toBe(0);
  }, 240_000);
});
