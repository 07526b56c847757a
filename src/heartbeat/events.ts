import { appendFileSync } from "node:fs";
import type { EventInput, RunEvent } from "../protocol/index.ts";

/** A line of NDJSON stays under this many bytes; long strings are cut with a marker (README.md, "run": the output rules). */
export const MAX_LINE_BYTES = 8000;
const MARK = (n: number) => `…[truncated ${n} bytes]`;

/**
 * Stamps `ts` and `seq` on each event and writes it as one line, flushed as it happens so Paperclip's live log shows
 * progress. Listeners (the transcript file, the human renderer) see the same events. When stdout breaks (EPIPE: the
 * parent is gone) `onBroken` fires once so the run can stop the way a SIGTERM would.
 */
export class EventSink {
  private seq = 0;
  private broken = false;
  private done = false;
  private readonly listeners: ((e: RunEvent) => void)[] = [];

  constructor(
    private readonly write: ((line: string) => void) | null,
    private readonly onBroken?: () => void,
  ) {}

  static stdout(onBroken?: () => void): EventSink {
    let sink: EventSink;
    process.stdout.on("error", (e: NodeJS.ErrnoException) => {
      if (e.code === "EPIPE" || e.code === "ERR_STREAM_DESTROYED") sink.markBroken();
    });
    sink = new EventSink((line) => process.stdout.write(line), onBroken);
    return sink;
  }

  listen(fn: (e: RunEvent) => void): void {
    this.listeners.push(fn);
  }

  /** Append every event except deltas to a file (the session transcript). */
  tee(path: string): void {
    this.listen((e) => {
      if ("delta" in e && e.delta) return;
      try {
        appendFileSync(path, `${JSON.stringify(e)}\n`);
      } catch {
        // The transcript is a convenience; a full disk must not kill the run.
      }
    });
  }

  emit<T extends RunEvent>(input: EventInput<T>): T {
    if (this.done) return input as unknown as T; // nothing after `result`
    const event = { ...withoutColour(input), ts: new Date().toISOString(), seq: ++this.seq } as unknown as T;
    const line = fitLine(event);
    if (event.type === "result") this.done = true;
    if (this.write && !this.broken) {
      try {
        this.write(line);
      } catch {
        this.markBroken();
      }
    }
    for (const l of this.listeners) l(event);
    return event;
  }

  /**
   * Pass on a line another sink already stamped and wrote (a worker's heartbeat, src/worker): written as it is, seen by
   * the listeners, and later emits continue its numbering.
   */
  relay(line: string, event: RunEvent): void {
    if (this.done) return;
    this.seq = Math.max(this.seq, event.seq);
    if (event.type === "result") this.done = true;
    if (this.write && !this.broken) {
      try {
        this.write(line.endsWith("\n") ? line : `${line}\n`);
      } catch {
        this.markBroken();
      }
    }
    for (const l of this.listeners) l(event);
  }

  get finished(): boolean {
    return this.done;
  }

  private markBroken(): void {
    if (this.broken) return;
    this.broken = true;
    this.onBroken?.();
  }
}

/**
 * A tool's output is data in the transcript, not a terminal: the colour codes a guest command prints (`ls --color`,
 * a test runner's red) are removed, for Paperclip's UI and for every reader of the NDJSON.
 */
function withoutColour<T extends { type: string }>(input: T): T {
  if (input.type !== "tool_result") return input;
  const r = input as T & { content?: unknown };
  return typeof r.content === "string" && r.content.includes("\x1b") ? { ...r, content: Bun.stripANSI(r.content) } : input;
}

/** Serialize, cutting the longest string fields until the line fits. */
export function fitLine(event: object): string {
  let line = `${JSON.stringify(event)}\n`;
  if (Buffer.byteLength(line) <= MAX_LINE_BYTES) return line;
  const copy = structuredClone(event) as Record<string, unknown>;
  for (let i = 0; i < 20 && Buffer.byteLength(line) > MAX_LINE_BYTES; i++) {
    const over = Buffer.byteLength(line) - MAX_LINE_BYTES;
    const longest = longestString(copy);
    if (!longest) break;
    const { holder, key, value } = longest;
    const keep = Math.max(0, value.length - over - 64);
    holder[key] = value.slice(0, keep) + MARK(Buffer.byteLength(value) - Buffer.byteLength(value.slice(0, keep)));
    line = `${JSON.stringify(copy)}\n`;
  }
  return line;
}

function longestString(obj: unknown): { holder: Record<string, unknown>; key: string; value: string } | undefined {
  let best: { holder: Record<string, unknown>; key: string; value: string } | undefined;
  const visit = (o: unknown) => {
    if (!o || typeof o !== "object") return;
    for (const [k, val] of Object.entries(o)) {
      if (typeof val === "string") {
        if (!best || val.length > best.value.length) best = { holder: o as Record<string, unknown>, key: k, value: val };
      } else visit(val);
    }
  };
  visit(obj);
  return best;
}
