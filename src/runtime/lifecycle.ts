/**
 * One place that knows how the process ends: on a signal or at the end of a command, every live sidecar is disposed
 * (agentOS's own exit hook SIGKILLs it too, but only on a normal exit), then the caller exits explicitly.
 */
type SignalHandler = (signal: NodeJS.Signals) => void;

let signalHandler: SignalHandler | undefined;
let installed = false;
let signalled = false;
let stopCode: number | undefined;

/**
 * 128 + the signal's number once a signal stopped the process (SIGTERM 143, SIGINT 130, SIGHUP 129), else undefined.
 * The command's own work fails when its VM is torn down under it; that failure is the signal's doing, not an error to
 * report, and the exit code is the signal's.
 */
export function signalExitCode(): number | undefined {
  return stopCode;
}

/** A command that must answer a signal itself (run writes a `cancelled` result) sets this; unset it when done. */
export function setSignalHandler(fn: SignalHandler | undefined): void {
  signalHandler = fn;
}

export function installSignalHandlers(): void {
  if (installed) return;
  installed = true;
  for (const sig of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
    process.on(sig, () => {
      const code = 128 + (sig === "SIGINT" ? 2 : sig === "SIGTERM" ? 15 : 1);
      if (signalled) process.exit(code); // a second signal: stop waiting
      signalled = true;
      stopCode = code;
      if (signalHandler) return signalHandler(sig);
      void shutdown().finally(() => process.exit(code));
    });
  }
}

/**
 * What shutdown stops: vm.ts registers its live VMs here, so this file imports no VM code and a command that never
 * boots one (run through a warm worker) does not load it (docs/worker.md).
 */
const closers = new Set<(graceMs: number) => Promise<void>>();
export function onShutdown(close: (graceMs: number) => Promise<void>): void {
  closers.add(close);
}

export async function shutdown(graceMs = 300): Promise<void> {
  await Promise.all([...closers].map((close) => close(graceMs).catch(() => {})));
}
