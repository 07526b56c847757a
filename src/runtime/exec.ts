import type { AgentOs } from "@rivet-dev/agentos-core";
import { bootVm, GUEST_WORKSPACE, type BootOptions } from "./vm.ts";
import { usageError } from "../errors.ts";

/** Where the guest's stdin comes from: bytes, a stream read as it arrives (a pipe, a terminal with -i), or nothing (EOF). */
export type ExecStdin = Uint8Array | AsyncIterable<Uint8Array>;

export interface ExecRequest {
  /** argv after `--`: one element is a shell string, several are quoted and joined. */
  command: string[];
  /** The VM's boot options: src/plan's planVm makes them from the policy, the workspace and the host tools. */
  boot: BootOptions;
  /** The whole environment of the command (the plan's guestEnv): nothing from the host gets in otherwise. */
  env?: Record<string, string>;
  /** Seconds the command may run, counted from the moment the guest process is ready (the VM boot is not counted). */
  timeoutSec?: number;
  /**
   * The guest's stdin. A stream is forwarded chunk by chunk while the command runs (read from the start, so a pipe
   * is drained while the VM boots) and its end is the guest's EOF; without stdin the guest sees EOF at once. The
   * command never waits for our stdin: when it exits, the rest of the stream is left unread.
   */
  stdin?: ExecStdin;
  onStdout?: (chunk: Uint8Array) => void;
  onStderr?: (chunk: Uint8Array) => void;
  /** Called once the VM is up, before the command runs (host tools attach to the VM here). */
  onBoot?: (vm: AgentOs) => void | Promise<void>;
  /** Called once the guest process is ready: the end of start-up (a progress line stops here). */
  onStarted?: () => void;
}

export interface ExecResult {
  exitCode: number;
  /** The captured output (only without onStdout/onStderr), colour codes removed: it is data, not a terminal. */
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
  // Read stdin from the start: a pipe is drained while the VM boots, and nothing waits for its end.
  const input = inputQueue(req.stdin);
  const handle = await bootVm(req.boot);
  try {
    await req.onBoot?.(handle.vm);
    const r = await runProcess(handle.vm, line, req, input);
    return { ...r, durationMs: Math.round(performance.now() - started) };
  } finally {
    input.stop();
    await handle.close();
  }
}

async function runProcess(vm: AgentOs, line: string, req: ExecRequest, input: InputQueue): Promise<Omit<ExecResult, "durationMs">> {
  const capture = { stdout: [] as Uint8Array[], stderr: [] as Uint8Array[] };
  let ready: () => void = () => {};
  const readyOnce = new Promise<void>((r) => (ready = r));
  const output = (stream: "stdout" | "stderr") => (chunk: Uint8Array) => {
    ready();
    const sink = stream === "stdout" ? req.onStdout : req.onStderr;
    if (sink) sink(chunk);
    else capture[stream].push(chunk);
  };
  const proc = await vm.process.spawn("sh", ["-c", line], {
    cwd: GUEST_WORKSPACE,
    env: req.env ?? {},
    onStdout: output("stdout"),
    onStderr: output("stderr"),
  });
  let exited = false;
  const exit = vm.process.wait(proc.pid).finally(() => (exited = true));
  // The guest shell takes about a second to start (cold); a write is acknowledged once it runs. That moment, or its
  // first output, ends start-up: the timeout counts from there.
  vm.process.writeStdin(proc.pid, new Uint8Array(0)).then(ready, ready);
  void readyOnce.then(() => req.onStarted?.());
  void pumpStdin(vm, proc.pid, input, () => exited);

  let timedOut = false;
  let timer: ReturnType<typeof setTimeout> | undefined;
  if (req.timeoutSec) {
    const ms = Math.round(req.timeoutSec * 1000);
    void readyOnce.then(() => {
      if (exited) return;
      timer = setTimeout(() => {
        timedOut = true;
        vm.process.kill(proc.pid).catch(() => {});
      }, ms);
    });
  }
  try {
    const r = await exit;
    const text = (chunks: Uint8Array[]) => Bun.stripANSI(Buffer.concat(chunks).toString("utf8"));
    return {
      exitCode: timedOut ? 124 : (r.exitCode ?? (r.outcome === "exited" ? 0 : 1)),
      stdout: text(capture.stdout),
      stderr: text(capture.stderr),
      timedOut,
    };
  } finally {
    if (timer) clearTimeout(timer);
  }
}

/** Forward stdin chunks to the guest in order, then close its stdin; stop quietly once the process is gone. */
async function pumpStdin(vm: AgentOs, pid: number, input: InputQueue, exited: () => boolean): Promise<void> {
  try {
    for (;;) {
      const chunk = await input.next();
      if (exited()) return;
      if (chunk === null) break;
      await vm.process.writeStdin(pid, chunk);
    }
    if (!exited()) await vm.process.closeStdin(pid);
  } catch {
    // The process exited between the check and the write: its stdin no longer matters.
  }
}

interface InputQueue {
  /** The next chunk, or null at the end of input. */
  next(): Promise<Uint8Array | null>;
  /** Stop reading (the command ended); a pending read of a pipe is abandoned. */
  stop(): void;
}

/** Read a stdin source into a queue as fast as it comes, independent of when the guest is ready for it. */
function inputQueue(source: ExecStdin | undefined): InputQueue {
  const chunks: (Uint8Array | null)[] = [];
  let wake: (() => void) | undefined;
  let stopped = false;
  const push = (c: Uint8Array | null) => {
    chunks.push(c);
    wake?.();
  };
  if (!source) push(null);
  else if (source instanceof Uint8Array) {
    if (source.length) push(source);
    push(null);
  } else {
    void (async () => {
      try {
        for await (const c of source) {
          if (stopped) return;
          if (c.length) push(c);
        }
      } catch {
        // A stdin that fails to read ends the guest's input like EOF.
      }
      push(null);
    })();
  }
  return {
    async next() {
      while (!chunks.length) await new Promise<void>((r) => (wake = r));
      return chunks.shift()!;
    },
    stop() {
      stopped = true;
    },
  };
}
