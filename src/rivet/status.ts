/** `engine status`: what is installed, whether it loads, whether an engine answers. */
import { errorMessage } from "../errors.ts";
import { DEFAULT_ENGINE_PORT, engineHealth, type EngineHealth } from "./engine.ts";
import { loadRivet, locateRivet, RIVET_VERSION } from "./modules.ts";

export interface EngineStatus {
  installed: boolean;
  /** The pinned version this binary installs. */
  version: string;
  dir: string;
  source: "env" | "cache";
  /** Why not installed. */
  reason?: string;
  rivetkitVersion?: string;
  engineCliVersion?: string;
  enginePath?: string;
  /** rivetkit and rivetkit/client imported (ms), or why not. */
  loadMs?: number;
  loadError?: string;
  endpoint: string;
  running: EngineHealth | null;
}

export async function engineStatus(opts: { endpoint?: string; env?: NodeJS.ProcessEnv } = {}): Promise<EngineStatus> {
  const env = opts.env ?? process.env;
  const endpoint = opts.endpoint ?? env.PAPERCLIP_AOS_ENGINE ?? `http://127.0.0.1:${DEFAULT_ENGINE_PORT}`;
  const running = await engineHealth(endpoint);
  const found = locateRivet(env);
  if (!found.found) return { installed: false, version: RIVET_VERSION, dir: found.dir, source: found.source, reason: found.reason, endpoint, running };
  const { found: _, ...location } = found;
  const started = performance.now();
  let loadError: string | undefined;
  try {
    await loadRivet(env);
  } catch (e) {
    loadError = errorMessage(e).split("\n")[0];
  }
  return { installed: true, version: RIVET_VERSION, ...location, loadMs: Math.round(performance.now() - started), loadError, endpoint, running };
}
