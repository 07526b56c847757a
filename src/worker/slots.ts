import { availableParallelism } from "node:os";
import { runtimeError } from "../errors.ts";

/**
 * At most `limit` heartbeats at once, at most `queueLimit` waiting; beyond that a request is refused at once with
 * `worker_busy` (a queue without a bound only moves the overload into every caller's timeout).
 */
export class Slots {
  running = 0;
  private readonly waiting: { resolve: (release: () => void) => void; reject: (e: unknown) => void }[] = [];

  constructor(
    readonly limit: number,
    readonly queueLimit: number,
    private readonly cores = availableParallelism(),
  ) {}

  /**
   * No room for the worker's background work (a spare VM, a session's next VM: each ~1.5-2 s of one core and, while
   * its first shell runs, ~300 MB more for a moment)? It may only take a core no heartbeat has, so it waits while a
   * heartbeat waits for a slot (the worker is at the operator's limit, and that heartbeat starts next) or while the
   * heartbeats running take every core. `own`: slots of the caller not to count (a heartbeat preparing its own
   * session's next VM still holds its slot). One rule for both kinds: "any other heartbeat running" (what the next
   * VMs had) kept a core idle on a 2-core machine while one heartbeat waited for its model, and a spare made while
   * every core had a heartbeat slowed them all (measured: docs/worker.md, Memory).
   */
  busy(own = 0): boolean {
    return this.queued > 0 || this.running - own >= this.cores;
  }

  get queued(): number {
    return this.waiting.length;
  }

  /** Would a request have to wait? */
  get full(): boolean {
    return this.running >= this.limit;
  }

  /** Wait for a slot; the returned function frees it. Rejects when the queue is full or `signal` aborts first. */
  acquire(signal: AbortSignal): Promise<() => void> {
    if (this.running < this.limit) return Promise.resolve(this.take());
    if (this.waiting.length >= this.queueLimit) {
      return Promise.reject(
        runtimeError(
          `the worker is full: ${this.running} heartbeats running and ${this.waiting.length} waiting (limits ${this.limit} and ${this.queueLimit})`,
          "retry later, or start serve with a higher --concurrency or --queue",
          "worker_busy",
        ),
      );
    }
    return new Promise((resolve, reject) => {
      const entry = { resolve, reject };
      this.waiting.push(entry);
      signal.addEventListener(
        "abort",
        () => {
          const i = this.waiting.indexOf(entry);
          if (i !== -1) {
            this.waiting.splice(i, 1);
            reject(signal.reason);
          }
        },
        { once: true },
      );
    });
  }

  private take(): () => void {
    this.running++;
    let done = false;
    return () => {
      if (done) return;
      done = true;
      this.running--;
      const next = this.waiting.shift();
      if (next) next.resolve(this.take());
    };
  }
}
