/**
 * A one-line spinner on stderr for the seconds a person waits on start-up (the VM boot): drawn only when stderr is a
 * terminal (not CI) and the logger shows info lines; everywhere else it does nothing, so logs and pipes stay clean.
 */
import { progressShown, stderrIsInteractive, setStatusLine, writeStderr } from "./log.ts";

const FRAMES = ["⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"];
const REDRAW_MS = 80;

export interface Spinner {
  /** Change the text after the spinner ("booting the VM", "starting pi"). */
  update(text: string): void;
  /** Clear the line (idempotent): call before anything else is written to the terminal. */
  stop(): void;
  readonly active: boolean;
}

export function spinnerEnabled(): boolean {
  return stderrIsInteractive() && progressShown();
}

export function startSpinner(text: string, opts: { enabled?: boolean; write?: (s: string) => void } = {}): Spinner {
  const enabled = opts.enabled ?? spinnerEnabled();
  // Synchronous, as the logger's own writes are, so a log line and the spinner never overtake each other.
  const write = opts.write ?? writeStderr;
  const started = performance.now();
  let label = text;
  let frame = 0;
  let timer: ReturnType<typeof setInterval> | undefined;
  const draw = () => {
    const secs = ((performance.now() - started) / 1000).toFixed(1);
    write(`\r${FRAMES[frame++ % FRAMES.length]} ${label} ${secs}s\x1b[K`);
  };
  const clear = { clear: () => write("\r\x1b[K") };
  if (enabled) {
    draw();
    timer = setInterval(draw, REDRAW_MS);
    setStatusLine(clear);
  }
  return {
    update(t) {
      label = t;
    },
    stop() {
      if (!timer) return;
      clearInterval(timer);
      timer = undefined;
      setStatusLine(undefined);
      clear.clear();
    },
    get active() {
      return timer !== undefined;
    },
  };
}
