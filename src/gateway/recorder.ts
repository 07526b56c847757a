import { appendFile } from "node:fs/promises";
import type { Redactor } from "./redact.ts";

/**
 * --record FILE: one NDJSON line per request the agent made, written when the gateway knows how it answers (status
 * and, for scripted answers, usage), so a slow answer's line can follow a later request's: `seq` is the arrival order.
 * Every line is redacted as a whole, so a secret cannot leak through a header, a body or an upstream error. Lines are
 * appended (the file is a log, not a document); writes are chained so lines never interleave.
 */
export class Recorder {
  private chain: Promise<void>;
  private failed: unknown = null;

  constructor(
    private readonly file: string,
    private readonly redactor: Redactor,
  ) {
    // The directory is never created: a --record path whose directory is missing is refused before the run
    // (src/heartbeat/input.ts), and a directory that disappears mid-run is a write failure, not a new tree.
    this.chain = Promise.resolve();
  }

  write(entry: Record<string, unknown>): void {
    const line = `${this.redactor.text(JSON.stringify(entry))}\n`;
    this.chain = this.chain
      .then(() => appendFile(this.file, line, { mode: 0o600 }))
      .catch((e: unknown) => {
        this.failed ??= e;
      });
  }

  /** Wait for pending lines; rethrows the first write failure. */
  async flush(): Promise<void> {
    await this.chain;
    if (this.failed) throw this.failed;
  }
}
