import { afterAll, expect, test } from "bun:test";
import { join } from "node:path";
import { removeTempDirs } from "../tmp.ts";
import { startupGraph } from "../startup-graph.ts";

/**
 * `run` loads only the modules' light faces (src/heartbeat/light.ts, src/runtime/light.ts, src/rivet/light.ts,
 * src/worker/light.ts) before it knows whether a warm worker or an engine takes the run: the client connects to a
 * worker in ~10 ms (docs/worker.md). What commands/run.ts reaches by static imports is bundled as the compiled binary
 * bundles it (code splitting); a module that loads agentOS, the VM, the in-process heartbeat, the worker itself, the
 * gateway, the tools or rivetkit at start would show here.
 */
afterAll(removeTempDirs);

test("run's start-up (commands/run.ts's static imports) loads no agentOS, VM, in-process heartbeat, worker, gateway, tools or engine client", async () => {
  const root = join(import.meta.dir, "..", "..");
  const { modules, packages } = await startupGraph(join(root, "commands", "run.ts"));
  expect(modules.has("src/heartbeat/request.ts")).toBe(true);
  expect(modules.has("src/worker/client.ts")).toBe(true);
  const heavy = [...modules].filter((m) =>
    /^src\/(runtime\/(vm|assets|embedded|exec|doctor|sidecar-router|memory-vfs|host-dir-vfs)|heartbeat\/(run|sessions|tools|policy|acp)|worker\/(server|sidecars|spares|resumable|jobs)|gateway|tools|rivet\/(?!choice))/.test(m),
  );
  expect(heavy).toEqual([]);
  expect([...packages]).toEqual([]);
});
