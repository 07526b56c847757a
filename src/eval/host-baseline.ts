import { existsSync } from "node:fs";
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { startGateway } from "../gateway/index.ts";
import { piConfigFiles } from "../agents/index.ts";
import type { HeartbeatSample } from "./figures.ts";
import { spawnMeasured } from "./harness.ts";

/**
 * Today's path, the baseline: the agent's own CLI on the host, the way Paperclip's local adapters run it (pi_local:
 * `pi -p --mode json`), talking to the same gateway code with the same script. Found on PATH, or in node_modules
 * when run from a source checkout; an agent without a CLI here has no baseline and the report says why.
 */
export interface HostBaseline {
  command: string;
  heartbeat(opts: { workspace: string; home: string; steps: unknown[]; resume: boolean }): Promise<HeartbeatSample>;
}

export type HostBaselineLookup = { baseline: HostBaseline } | { missing: string };

export function hostBaseline(agent: string): HostBaselineLookup {
  if (agent === "pi") return piBaseline();
  return { missing: `no host CLI baseline is wired for ${agent} in this build` };
}

function piBaseline(): HostBaselineLookup {
  const node = Bun.which("node");
  const onPath = Bun.which("pi");
  let fromSource: string | undefined;
  try {
    fromSource = join(Bun.resolveSync("@mariozechner/pi-coding-agent", import.meta.dir), "..", "cli.js");
  } catch {
    fromSource = undefined;
  }
  const argv = onPath ? [onPath] : node && fromSource && existsSync(fromSource) ? [node, fromSource] : undefined;
  if (!argv) return { missing: "the pi CLI is not installed on this host (npm i -g @mariozechner/pi-coding-agent)" };
  return {
    baseline: {
      command: "pi -p --mode json",
      async heartbeat({ workspace, home, steps, resume }) {
        const gw = await startGateway({ model: "scripted", script: { steps } as never });
        try {
          for (const f of piConfigFiles({ url: gw.url, token: gw.token, provider: gw.provider, model: gw.model })) {
            await mkdir(join(home, f.path, ".."), { recursive: true });
            await writeFile(join(home, f.path), f.content);
          }
          const r = await spawnMeasured([...argv, "-p", "--mode", "json", "--session-dir", join(home, "sessions"), ...(resume ? ["--continue"] : []), "Do the evaluation task."], {
            cwd: workspace,
            env: { HOME: home, PI_OFFLINE: "1", PATH: process.env.PATH },
          });
          return { wallMs: r.wallMs, exitCode: r.code, errorCode: r.code === 0 ? null : "host_cli_failed", peakRssMb: r.peakRssMb };
        } finally {
          await gw.close();
        }
      },
    },
  };
}
