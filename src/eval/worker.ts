import { join } from "node:path";
import { mkdir } from "node:fs/promises";
import { untilServing } from "../worker/index.ts";
import { selfCommand } from "./harness.ts";

/**
 * A warm worker (`paperclip-aos serve`) of the evaluation's own, on a state dir of its own, for the "through a
 * worker" path: started before its heartbeats, stopped (SIGTERM, which removes its socket) after them.
 */
export interface EvalWorker {
  home: string;
  socket: string;
  stop(): Promise<void>;
}

export async function startWorker(dir: string, cache: string | undefined): Promise<EvalWorker | { missing: string }> {
  const home = join(dir, "state");
  const socket = join(dir, "w.sock");
  await mkdir(home, { recursive: true });
  const p = Bun.spawn([...selfCommand(), "serve", "--json", "--socket", socket], {
    env: { ...process.env, PAPERCLIP_AOS_HOME: home, ...(cache ? { PAPERCLIP_AOS_CACHE: cache } : {}), NO_COLOR: "1" },
    stdin: "ignore",
    stdout: "pipe",
    stderr: "pipe",
  });
  const stop = async () => {
    p.kill("SIGTERM");
    const done = await Promise.race([p.exited.then(() => true), Bun.sleep(20_000).then(() => false)]);
    if (!done) p.kill("SIGKILL");
  };
  // serve --json prints one JSON line once it is warm (its sidecar has run a first shell and a first session).
  const line = await Promise.race([untilServing(p.stdout, "\n").catch(() => ""), Bun.sleep(180_000).then(() => "")]);
  try {
    if ((JSON.parse(line.split("\n")[0]!) as { ready?: boolean }).ready) return { home, socket, stop };
  } catch {
    // not ready: say why below
  }
  const why = (await Promise.race([new Response(p.stderr).text(), Bun.sleep(2000).then(() => "")])).split("\n").find((l) => l.trim()) ?? "it did not report ready";
  await stop();
  return { missing: `the worker did not start: ${why.slice(0, 200)}` };
}
