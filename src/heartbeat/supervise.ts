// The runtime's light face: a run through a warm worker is supervised too, and loads no VM code (docs/worker.md).
import { parentPid, setSignalHandler } from "../runtime/light.ts";
import type { EventSink } from "./events.ts";
import { resultEvent, stopOutcome, type StopReason } from "./result.ts";

/**
 * What stops a heartbeat from outside: SIGINT/SIGTERM/SIGHUP, its own --timeout, a dead parent (Paperclip does not
 * reap an external adapter's orphans), a closed stdout (the sink calls `halt`). Each aborts `signal` with a
 * StopReason; runHeartbeat then cancels the prompt, saves the session and writes its result. If that orderly path
 * overruns graceSec, a minimal result is written and the process exits anyway.
 */
export interface Supervisor {
  signal: AbortSignal;
  halt(reason: StopReason): void;
  dispose(): void;
}

export function superviseRun(opts: { sink: () => EventSink; timeoutSec?: number; graceSec: number }): Supervisor {
  const stop = new AbortController();
  const halt = (reason: StopReason) => stop.abort(reason);
  let hardStop: ReturnType<typeof setTimeout> | undefined;
  stop.signal.addEventListener("abort", () => {
    const reason = stop.signal.reason as StopReason;
    const fallback = stopOutcome(reason);
    hardStop = setTimeout(() => {
      const sink = opts.sink();
      if (!sink.finished) {
        sink.emit(resultEvent({ ...fallback, errorMessage: `stopped (${reason}); the runtime did not wind down within the grace period` }));
      }
      process.exit(fallback.exitCode);
    }, Math.max(1, opts.graceSec) * 1000);
  });
  setSignalHandler((sig) => halt(sig as StopReason));
  const timer = opts.timeoutSec ? setTimeout(() => halt("timeout"), opts.timeoutSec * 1000) : undefined;
  const ppid = parentPid();
  const parentWatch = setInterval(() => parentPid() !== ppid && halt("parent_died"), 1000);
  return {
    signal: stop.signal,
    halt,
    dispose() {
      clearTimeout(timer);
      clearTimeout(hardStop);
      clearInterval(parentWatch);
      setSignalHandler(undefined);
    },
  };
}
