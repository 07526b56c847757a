/** `cache ls|clean` on a private runtime cache, `session ls|show|rm` on sessions a real heartbeat made. */
import { afterAll, describe, expect, test } from "bun:test";
import { copyFileSync, existsSync, mkdirSync, readdirSync } from "node:fs";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { versionId } from "../../src/runtime/index.ts";
import { binPath, parseJson, processesMentioning, removeTempDirs, runBin, sharedCache, tempDir } from "./helpers.ts";

const procs: { kill(): void }[] = [];
// Every temp dir comes from helpers.tempDir, which tracks it; this file removes them when it is done.
afterAll(async () => {
  for (const p of procs) p.kill();
  await removeTempDirs();
});

describe("cache", () => {
  test("ls names the versions and the current one; clean removes the others, never what a live process uses; --all the rest", async () => {
    // The shared extraction is only read: the current binary's files are copied into a private cache. Not hard-linked:
    // a link changes the shared file's ctime, which agentOS's tar filesystem takes for the file changing under every
    // VM that has it mounted ("ESTALE: tar archive backing file changed while mounted": CI, a serve warming up beside
    // this test). No stamps are copied: the first run here hashes the copies once and stamps them.
    const warm = await runBin(["exec", "--", "true"], { cwd: await tempDir("aos-cache-warm-") });
    expect(warm.code).toBe(0);
    const shared = parseJson((await runBin(["cache", "ls", "--json"])).stdout);
    const current = shared.versions.find((v: { current: boolean }) => v.current);
    expect(current.present).toBe(current.files.length);
    const cache = await tempDir("aos-cache-priv-");
    const rt = join(cache, "rt");
    mkdirSync(join(rt, ".versions"), { recursive: true });
    for (const f of current.files as string[]) copyFileSync(join(sharedCache, "rt", f), join(rt, f));
    // An older version (recorded) and a file no record names.
    const old = ["agentos-sidecar-0000000000000000", "pi-0000000000000000.aospkg"];
    for (const f of old) await writeFile(join(rt, f), "x".repeat(4096));
    await writeFile(join(rt, `${old[1]}.ok`), "stamp");
    await writeFile(join(rt, ".versions", `${versionId(old)}.json`), JSON.stringify({ id: versionId(old), version: "0.0.9", commit: "old1234", files: old, lastUsed: "2026-01-01T00:00:00.000Z" }));
    await writeFile(join(rt, "opencode-1111111111111111.aospkg"), "y".repeat(1000));
    const env = { PAPERCLIP_AOS_CACHE: cache };

    const ls = parseJson((await runBin(["cache", "ls", "--json"], { env })).stdout);
    expect(ls.current).toBe(current.id);
    expect(ls.versions.map((v: { id: string; current: boolean }) => [v.id, v.current])).toEqual([[current.id, true], [versionId(old), false]]);
    expect(ls.unrecorded.files).toEqual(["opencode-1111111111111111.aospkg"]);
    expect(ls.reclaimableBytes).toBe(4096 * 2 + 5 + 1000);
    const table = await runBin(["cache", "ls"], { env });
    expect(table.stdout).toContain("current");
    expect(table.stdout).toContain("0.0.9 (old1234)");

    // A process reading one file of the old version keeps the whole version.
    const holder = Bun.spawn(["sh", "-c", `exec 3< ${join(rt, old[1]!)}; exec sleep 120`]);
    procs.push(holder);
    while (!readdirSync(`/proc/${holder.pid}/fd`).includes("3")) await Bun.sleep(20);
    const kept = parseJson((await runBin(["cache", "clean", "--json"], { env })).stdout);
    expect(kept.removed).toEqual(["opencode-1111111111111111.aospkg"]);
    expect(kept.keptInUse.sort()).toEqual([...old].sort());
    holder.kill();
    await holder.exited;

    const cleaned = parseJson((await runBin(["cache", "clean", "--json"], { env })).stdout);
    expect(cleaned.removed.sort()).toEqual([...old].sort());
    expect(readdirSync(join(rt, ".versions"))).not.toContain(`${versionId(old)}.json`);
    expect(parseJson((await runBin(["cache", "ls", "--json"], { env })).stdout).versions.map((v: { id: string }) => v.id)).toEqual([current.id]);

    // --all keeps the current files while a run uses them, then removes them.
    const running = Bun.spawn([binPath(), "exec", "--", "sleep 8; echo done"], { cwd: cache, env: { ...process.env, PAPERCLIP_AOS_HOME: join(cache, "state"), PAPERCLIP_AOS_CACHE: cache }, stdout: "pipe", stderr: "pipe" });
    procs.push(running);
    while (!processesMentioning(rt).some((l) => l.includes("agentos-sidecar"))) await Bun.sleep(100);
    const busy = parseJson((await runBin(["cache", "clean", "--all", "--json"], { env })).stdout);
    expect(busy.removed).toEqual([]);
    expect(busy.keptInUse.sort()).toEqual([...current.files].sort());
    expect(await new Response(running.stdout).text()).toBe("done\n");
    expect(await running.exited).toBe(0);
    const all = parseJson((await runBin(["cache", "clean", "--all", "--json"], { env })).stdout);
    expect(all.removed.sort()).toEqual([...current.files].sort());
    expect(readdirSync(rt).filter((n) => n !== ".versions")).toEqual([]);
  });
});

describe("session", () => {
  test("ls and show what a heartbeat kept; rm refuses while a heartbeat holds the lock, then removes it", async () => {
    const home = await tempDir("aos-sess-home-");
    const ws = await tempDir("aos-sess-ws-");
    const script = join(home, "script.json");
    await writeFile(script, JSON.stringify({ steps: [{ text: "done." }] }));
    const env = { PAPERCLIP_AOS_HOME: home };
    const run = await runBin(["run", "--cwd", ws, "--model", `scripted:${script}`, "--prompt", "remember this task", "--task-key", "PAP-7"], { env });
    expect(run.code).toBe(0);

    const ls = parseJson((await runBin(["session", "ls", "--json"], { env })).stdout);
    expect(ls).toHaveLength(1);
    expect(ls[0]).toMatchObject({ agentId: "local", taskKey: "PAP-7", agent: "pi", cwd: ws, runs: 1, busy: false });
    expect(ls[0].bytes).toBeGreaterThan(0);
    const table = (await runBin(["session", "ls"], { env })).stdout;
    expect(table).toContain("PAP-7");
    expect(table).toContain(ws);
    const show = parseJson((await runBin(["session", "show", ls[0].sessionId.slice(0, 6), "--json"], { env })).stdout);
    expect(show.taskKey).toBe("PAP-7");
    expect(show.prompts.map((p: { text: string }) => p.text)).toEqual(["remember this task"]);

    // A heartbeat's lock: the owner is a live process.
    const owner = Bun.spawn(["sleep", "120"]);
    procs.push(owner);
    await writeFile(join(ls[0].dir, "lock"), JSON.stringify({ pid: owner.pid, runId: "busy-run" }));
    expect(parseJson((await runBin(["session", "ls", "--json"], { env })).stdout)[0].busy).toBe(true);
    const refused = await runBin(["session", "rm", "PAP-7"], { env });
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain("another heartbeat (run busy-run");
    expect(existsSync(ls[0].dir)).toBe(true);
    owner.kill();
    await owner.exited;

    const removed = await runBin(["session", "rm", "PAP-7", "--json"], { env });
    expect(removed.code).toBe(0);
    expect(parseJson(removed.stdout).removed.sessionId).toBe(ls[0].sessionId);
    expect(existsSync(ls[0].dir)).toBe(false);
    expect(parseJson((await runBin(["session", "ls", "--json"], { env })).stdout)).toEqual([]);
  });
});
