/**
 * What the Rivet lane's test files share (run by test/rivet/lane.sh): the binary under test, a free port for an
 * engine, `engine start` of that binary on it, and the engine's shared token the workers and clients use.
 */
import { randomBytes } from "node:crypto";
import { join } from "node:path";
import { ENGINE_TOKEN_ENV } from "../../src/rivet/index.ts";

export const LANE_BIN = process.env.LANE_BIN ?? join(import.meta.dir, "..", "..", "dist", "paperclip-aos");
if (!process.env.PAPERCLIP_AOS_RIVET_DIR) throw new Error("PAPERCLIP_AOS_RIVET_DIR is not set: run the lane's files through test/rivet/lane.sh");

/** The engine's shared token of this run (src/rivet/token.ts): every worker and client of the lane gets it. */
export const LANE_TOKEN = randomBytes(32).toString("hex");
/** The environment that carries it (only ever the environment: never argv). */
export const TOKEN_ENV = { [ENGINE_TOKEN_ENV]: LANE_TOKEN };

export interface Started {
  proc: ReturnType<typeof Bun.spawn>;
  info: { endpoint: string; pid: number; version: string; dir: string; logFile: string };
}

/** A free base port N with N+1 and N+10 free too (the engine takes all three). */
export async function freePort(): Promise<number> {
  for (let i = 0; i < 50; i++) {
    const base = 20000 + Math.floor(Math.random() * 20000);
    const taken = await Promise.all([base, base + 1, base + 10].map((p) => Bun.connect({ hostname: "127.0.0.1", port: p, socket: { data() {} } }).then((s) => (s.end(), true), () => false)));
    if (!taken.some(Boolean)) return base;
  }
  throw new Error("no free port");
}

export async function startEngine(dir: string, port: number, home: string): Promise<Started> {
  const proc = Bun.spawn([LANE_BIN, "engine", "start", "--dir", dir, "--port", String(port), "--json"], {
    env: { ...process.env, PAPERCLIP_AOS_HOME: home },
    stdout: "pipe",
    stderr: "pipe",
  });
  const reader = proc.stdout.getReader();
  let text = "";
  while (!text.includes("\n")) {
    const { value, done } = await reader.read();
    if (done) throw new Error(`engine start ended before it printed its endpoint: ${await new Response(proc.stderr).text()}`);
    text += new TextDecoder().decode(value);
  }
  reader.releaseLock();
  return { proc, info: JSON.parse(text.split("\n")[0]!) };
}

