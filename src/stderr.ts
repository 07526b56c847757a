/**
 * Write to stderr with a plain write(2): Bun's console.error paints every line red on a terminal, successes and
 * progress included. Synchronous, so a message is out before the process exits. On its own, without the logger
 * (src/log.ts, which writes with it), so a command that prints and ends (`tool invoke`) does not load consola.
 */
export function writeStderr(text: string): void {
  const { writeSync } = import.meta.require("node:fs") as typeof import("node:fs");
  let buf = Buffer.from(text);
  while (buf.length) {
    try {
      buf = buf.subarray(writeSync(2, buf));
    } catch (e) {
      // A full non-blocking pipe: wait for the reader rather than drop the message.
      if ((e as NodeJS.ErrnoException).code !== "EAGAIN") return;
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 5);
    }
  }
}
