import type { AgentOs } from "@rivet-dev/agentos-core";
import { bootVm, GUEST_WORKSPACE, type BootOptions } from "./vm.ts";
import { usageError } from "../errors.ts";

export interface ExecRequest {
  /** argv after `--`: one element is a shell string, several are quoted and joined. */
  command: string[];
  /** The VM's boot options: src/plan's planVm makes them from the policy, the workspace and the host tools. */
  boot: BootOptions;
  /** The whole environment of the command (the plan's guestEnv): nothing from the host gets in otherwise. */
  env?: Record<string, string>;
  timeoutSec?: number;
  stdin?: Uint8Array;
  onStdout?: (chunk: Uint8Array) => void;
  onStderr?: (chunk: Uint8Array) => void;
  /** Called once the VM is up, before the command runs (host tools attach to the VM here). */
  onBoot?: (vm: AgentOs) => void | Promise<void>;
}

export interface ExecResult {
  exitCode: number;
  stdout: string;
  stderr: string;
  durationMs: number;
  timedOut: boolean;
}

export function shellQuote(arg: string): string {
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(arg) ? arg : `'${arg.replace(/'/g, `'\\''`)}'`;
}

export function commandLine(argv: string[]): string {
  if (argv.length === 0) throw usageError("no command given", "put the command after --, e.g. paperclip-aos exec -- ls -la", "missing_command");
  return argv.length === 1 ? argv[0]! : argv.map(shellQuote).join(" ");
}

/** Boot a VM, run one shell command in /workspace, stream or capture its output, and dispose the VM. */
export async function execInVm(req: ExecRequest): Promise<ExecResult> {
  const line = commandLine(req.command);
  const started = performance.now();
  const handle = await bootVm(req.boot);
  const booted = performance.now();
  const result = (exitCode: number, stdout: string, stderr: string, timedOut: boolean): ExecResult => ({
    exitCode,
    stdout,
    stderr,
    durationMs: Math.round(performance.now() - started),
    timedOut,
  });
  try {
    await req.onBoot?.(handle.vm);
    const r = await handle.vm.process.exec(line, {
      cwd: GUEST_WORKSPACE,
      env: req.env ?? {},
      ...(req.stdin ? { stdin: req.stdin } : {}),
      ...(req.timeoutSec ? { timeoutMs: Math.round(req.timeoutSec * 1000) } : {}),
      onStdout: req.onStdout,
      onStderr: req.onStderr,
      output: { capture: req.onStdout ? "none" : "all" },
    });
    const timedOut = (r as { outcome?: string }).outcome === "timed_out";
    return result(timedOut ? 124 : (r.exitCode ?? 1), r.stdout ?? "", r.stderr ?? "", timedOut);
  } catch (e) {
    // A deadline that passes while the VM's first shell is still starting comes back as a cancelled request
    // ("ERR_AGENTOS_REQUEST_CANCELLED … TransportClosed") instead of `timed_out`: it is the same timeout.
    if (req.timeoutSec && performance.now() - booted >= req.timeoutSec * 1000 - 50 && String(e).includes("ERR_AGENTOS_REQUEST_CANCELLED")) {
      return result(124, "", "", true);
    }
    throw e;
  } finally {
    await handle.close();
  }
}
