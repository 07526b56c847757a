import { liveVms } from "./vm.ts";

/**
 * One place that knows how the process ends: on a signal or at the end of a command, every live sidecar is disposed
 * (agentOS's own exit hook SIGKILLs it too, but only on a normal exit), then the caller exits explicitly.
 */
type SignalHandler = (signal: NodeJS.Signals) => void;

let signalHandler: SignalHandler | undefined;
let installed = false;
let signalled = false;

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
      if (signalHandler) return signalHandler(sig);
      void shutdown().finally(() => process.exit(code));
    });
  }
}

export async function shutdown(graceMs = 300): Promise<void> {
  await Promise.all([...liveVms()].map((h) => h.close({ graceMs }).catch(() => {})));
}
