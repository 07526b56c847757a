/**
 * Build progress on stderr, shown only when a build takes more than a second: a redrawn bar when a person watches
 * (TTY, not CI), else a plain line every few seconds so logs stay readable.
 */
import { stderrIsInteractive } from "../log.ts";
import type { BuildProgress } from "./build.ts";

const SHOW_AFTER_MS = 1000;
const LOG_EVERY_MS = 3000;
const REDRAW_EVERY_MS = 100;

export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ["KB", "MB", "GB", "TB"];
  let v = n / 1024;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v >= 100 ? v.toFixed(0) : v.toFixed(1)} ${units[i]}`;
}

export function progressReporter(opts: { label: string; enabled: boolean; write?: (s: string) => void; interactive?: boolean }) {
  const write = opts.write ?? ((s: string) => void process.stderr.write(s));
  // Asked only once there is something to show: the first touch of process.stderr costs a short build ~7 ms.
  let interactive = opts.interactive;
  const started = Date.now();
  let last = 0;
  let drawn = false;
  const line = (p: BuildProgress) => {
    const frac = p.totalBytes > 0 ? p.bytes / p.totalBytes : p.totalFiles > 0 ? p.files / p.totalFiles : 1;
    const pct = Math.min(100, Math.floor(frac * 100));
    const secs = ((Date.now() - started) / 1000).toFixed(1);
    const text = `${p.files}/${p.totalFiles} files, ${formatBytes(p.bytes)}/${formatBytes(p.totalBytes)}, ${secs}s`;
    if (!interactive) return `${opts.label}: ${pct}% ${text}\n`;
    const width = 24;
    const full = Math.round(frac * width);
    return `\r${opts.label} [${"#".repeat(full)}${" ".repeat(width - full)}] ${String(pct).padStart(3)}% ${text}\x1b[K`;
  };
  return {
    update(p: BuildProgress) {
      if (!opts.enabled) return;
      const now = Date.now();
      if (now - started < SHOW_AFTER_MS) return;
      interactive ??= stderrIsInteractive();
      if (now - last < (interactive ? REDRAW_EVERY_MS : LOG_EVERY_MS)) return;
      last = now;
      drawn = true;
      write(line(p));
    },
    done() {
      if (drawn && interactive) write("\r\x1b[K");
    },
  };
}
