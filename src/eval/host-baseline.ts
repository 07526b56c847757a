import { existsSync } from "node:fs";
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { DRIVERS, type HostCli } from "../agents/index.ts";
import { startGateway } from "../gateway/index.ts";
import type { HeartbeatSample } from "./figures.ts";
import { spawnMeasured } from "./harness.ts";

/**
 * Today's path, the baseline: the agent's own CLI on the host, the way Paperclip's *_local adapters run it (each
 * driver's hostCli says how), talking to the same gateway code with the same script. The CLI comes from a source
 * checkout's node_modules (the pinned devDependency) or from PATH; an agent without one here has no baseline, and
 * the report says why. scripts/bench.ts measures its baselines through the same function.
 */
export interface HostBaseline {
  command: string;
  heartbeat(opts: { workspace: string; home: string; steps: unknown[]; resume: boolean; prompt?: string }): Promise<HeartbeatSample>;
}

export type HostBaselineLookup = { baseline: HostBaseline } | { missing: string };

const SOURCE_NODE_MODULES = join(import.meta.dir, "..", "..", "node_modules");

/** argv that starts the CLI: the checkout's copy when there is one, else the one on PATH. */
export function hostCliArgv(cli: HostCli): string[] | undefined {
  const local = join(SOURCE_NODE_MODULES, cli.nodeModulesPath);
  if (existsSync(local)) {
    if (!local.endsWith(".js")) return [local];
    const node = Bun.which("node");
    return node ? [node, local] : undefined;
  }
  const onPath = Bun.which(cli.bin);
  return onPath ? [onPath] : undefined;
}

export function hostBaseline(agent: string): HostBaselineLookup {
  const cli: HostCli | undefined = DRIVERS.find((d) => d.id === agent)?.hostCli;
  if (!cli) return { missing: `${agent} has no host CLI to compare with` };
  const argv = hostCliArgv(cli);
  if (!argv) return { missing: `the ${cli.bin} CLI is not installed on this host (not on PATH${cli.nodeModulesPath.endsWith(".js") ? ", or no node to run it" : ""})` };
  return {
    baseline: {
      command: cli.command,
      async heartbeat({ workspace, home, steps, resume, prompt = "Do the evaluation task." }) {
        const gw = await startGateway({ model: "scripted", script: { steps } as never });
        try {
          const endpoint = { url: gw.url, token: gw.token, provider: gw.provider, model: gw.model };
          for (const f of cli.files?.(endpoint) ?? []) {
            await mkdir(join(home, f.path, ".."), { recursive: true });
            await writeFile(join(home, f.path), f.content);
          }
          // PWD too: some CLIs take their working directory from it rather than from the process. TMPDIR in the
          // scratch home: the CLIs leave files there (OpenCode, a compiled Bun program, a 5.6 MB native library per
          // run; Claude Code its claude-<uid> dir), which would stay in the host's /tmp after the run.
          const tmp = join(home, "tmp");
          await mkdir(tmp, { recursive: true });
          let r: Awaited<ReturnType<typeof spawnMeasured>>;
          try {
            r = await spawnMeasured([...argv, ...cli.args({ resume, prompt, home })], { cwd: workspace, env: { ...cli.env({ home, gw: endpoint }), PWD: workspace, TMPDIR: tmp } });
          } catch {
            // It could not even start (not an executable, a broken install): a failed baseline, not a failed eval.
            return { wallMs: 0, exitCode: 127, errorCode: "host_cli_failed", peakRssMb: 0 };
          }
          // A CLI that exits 0 without having taken every step did not do the workload.
          const complete = gw.stepsUsed() >= steps.length;
          const exitCode = r.code === 0 && !complete ? 1 : r.code;
          return { wallMs: r.wallMs, exitCode, errorCode: exitCode === 0 ? null : complete ? "host_cli_failed" : "host_cli_incomplete", peakRssMb: r.peakRssMb };
        } finally {
          await gw.close();
        }
      },
    },
  };
}
