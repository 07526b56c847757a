import { closeSync, fstatSync, openSync, renameSync, writeSync } from "node:fs";

/** engine.log's cap: past it the file becomes engine.log.1 (replacing the one before) and a new one starts. */
export const ENGINE_LOG_MAX_BYTES = 8 << 20;

/**
 * An append-only log of at most two files of `maxBytes` each (`path` and `path.1`): an engine left running for weeks
 * writes its output forever, and the directory it writes to is the user's state dir. The file already there is
 * continued, or rotated first when it is full. Writes are synchronous, so nothing is lost at exit.
 */
export class CappedLog {
  #fd: number;
  #size: number;

  constructor(
    readonly path: string,
    readonly maxBytes = ENGINE_LOG_MAX_BYTES,
  ) {
    this.#fd = openSync(path, "a", 0o600);
    this.#size = fstatSync(this.#fd).size;
    if (this.#size >= maxBytes) this.#rotate();
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
