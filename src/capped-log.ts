import { closeSync, fstatSync, openSync, renameSync, statSync, writeSync } from "node:fs";

/**
 * Logs the product keeps in the user's dirs (the engine's engine.log, the sidecars' sidecar.log) would grow forever on a
 * machine that runs for weeks: each is at most two files of `maxBytes` (`path` and `path.1`, the older one dropped).
 */
export const LOG_MAX_BYTES = 8 << 20;

/**
 * Move a log at its cap to `path.1` (replacing the one before), so that what is appended next starts a new file. For
 * a log written by other processes (a sidecar appends to sidecar.log itself): called before each of them starts, so
 * one that lives on keeps writing to `path.1` until it ends. Two processes rotating at once may drop one file's lines.
 */
export function rotateFullLog(path: string, maxBytes = LOG_MAX_BYTES): boolean {
  try {
    if (statSync(path).size < maxBytes) return false;
    renameSync(path, `${path}.1`);
    return true;
  } catch {
    return false; // not there yet, or rotated by someone else meanwhile
  }
}

/**
 * An append-only log of our own, capped the same way while it is written: the file already there is continued, or
 * rotated first when it is full. Writes are synchronous, so nothing is lost at exit.
 */
export class CappedLog {
  #fd: number;
  #size: number;

  constructor(
    readonly path: string,
    readonly maxBytes = LOG_MAX_BYTES,
  ) {
    rotateFullLog(path, maxBytes);
    this.#fd = openSync(path, "a", 0o600);
    this.#size = fstatSync(this.#fd).size;
  }

  write(chunk: Uint8Array): void {
    if (this.#fd < 0) return;
    if (this.#size > 0 && this.#size + chunk.length > this.maxBytes) this.#rotate();
    let off = 0;
    while (off < chunk.length) off += writeSync(this.#fd, chunk, off, chunk.length - off);
    this.#size += chunk.length;
  }

  close(): void {
    if (this.#fd < 0) return;
    closeSync(this.#fd);
    this.#fd = -1;
  }

  #rotate(): void {
    closeSync(this.#fd);
    renameSync(this.path, `${this.path}.1`);
    this.#fd = openSync(this.path, "a", 0o600);
    this.#size = 0;
  }
}
