import { afterAll, expect, test } from "bun:test";
import { join } from "node:path";
import { removeTempDirs, tempDir } from "../tmp.ts";

/**
 * `run` loads only the modules' light faces (src/heartbeat/light.ts, src/runtime/light.ts, src/rivet/light.ts,
 * src/worker/light.ts) before it knows whether a warm worker or an engine takes the run: the client connects to a
 * worker in ~10 ms (docs/worker.md). What commands/run.ts reaches by static imports is bundled as the compiled binary
 * bundles it (code splitting); a module that loads agentOS, the VM, the in-process heartbeat, the worker itself, the
 * gateway, the tools or rivetkit at start would show here.
 */
afterAll(removeTempDirs);

test("run's start-up (commands/run.ts's static imports) loads no agentOS, VM, in-process heartbeat, worker, gateway, tools or engine client", async () => {
  const outdir = await tempDir("aos-run-graph-");
  const root = join(import.meta.dir, "..", "..");
  const built = await Bun.build({ entrypoints: [join(root, "commands", "run.ts")], target: "bun", splitting: true, outdir, external: ["@rivet-dev/*", "rivetkit"] });
  expect(built.success).toBe(true);
  const outputs = new Map(built.outputs.map((o) => [o.path, o]));
  const modules = new Set<string>();
  const packages = new Set<string>();
  const seen = new Set<string>();
  // The entry chunk and the chunks it imports statically (`from "./chunk-…"`; a dynamic import() loads later).
  const walk = async (path: string): Promise<void> => {
    if (seen.has(path)) return;
    seen.add(path);
    const text = await outputs.get(path)!.text();
    for (const m of text.matchAll(/^\/\/ (\S+)$/gm)) modules.add(m[1]!);
    for (const m of text.matchAll(/ from "(@rivet-dev\/[^"]+|rivetkit[^"]*)"/g)) packages.add(m[1]!);
    for (const m of text.matchAll(/ from "\.\/(chunk-[a-z0-9]+\.js)"/g)) await walk(join(outdir, m[1]!));
  };
  await walk(built.outputs.find((o) => o.kind === "entry-point")!.path);
  expect(modules.has("src/heartbeat/request.ts")).toBe(true);
  expect(modules.has("src/worker/client.ts")).toBe(true);
  const heavy = [...modules].filter((m) =>
    /^src\/(runtime\/(vm|assets|embedded|exec|doctor|sidecar-router|memory-vfs|host-dir-vfs)|heartbeat\/(run|sessions|tools|policy|acp)|worker\/(server|sidecars|spares|resumable|jobs)|gateway|tools|rivet\/(?!choice))/.test(m),
  );
  expect(heavy).toEqual([]);
  expect([...packages]).toEqual([]);
});
