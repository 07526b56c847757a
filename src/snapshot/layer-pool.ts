/**
 * Layers written in parallel: a build's layers are independent (each its own temp file, its own digests), so this
 * thread and workers (layer-worker.ts) each write whole layers, and reading and hashing (~0.6 ms per MB) run on
 * every core instead of one. The bytes are the same as in one thread: the same function writes them. Small builds
 * stay in this thread alone, where starting a worker (~3 ms of CPU) would cost more than it saves.
 */
import { AosError, ExitCode, runtimeError } from "../errors.ts";
import { writeLayer, type LayerInput, type WrittenLayer } from "./layer.ts";

export interface LayerJob {
  seq: number;
  tmpPath: string;
  inputs: LayerInput[];
}

export type LayerJobResult =
  | { seq: number; layer: WrittenLayer }
  | { seq: number; error: { message: string; code?: string; exitCode?: number; hint?: string } };

/** Below this many bytes to write, a build writes its layers in this thread. */
export const PARALLEL_MIN_BYTES = 8 << 20;
const MAX_WORKERS = 4;

export interface LayerWriter {
  /** Worker threads writing (0: this thread). */
  readonly workers: number;
  /**
   * `now`: hand the layer to a worker at once, busy or not (the least busy one), for a caller that keeps this thread
   * busy meanwhile (the walk) and so would answer no worker until it is done. Only with workers.
   */
  write(tmpPath: string, inputs: LayerInput[], now?: boolean): Promise<WrittenLayer>;
  /** Refuse the layers not started yet (they reject with `reason`); those being written finish. */
  abort(reason: Error): void;
  close(): void;
}

/**
 * A writer for `layers` layers holding `bytes` of file contents: this thread and a worker per other core (at most
 * four) when that is worth it, else this thread alone. `workers` overrides the choice (0 = this thread alone).
 */
export function layerWriter(opts: { bytes: number; layers: number; workers?: number }): LayerWriter {
  const cores = typeof navigator === "undefined" ? 1 : navigator.hardwareConcurrency || 1;
  const n = opts.workers ?? (opts.bytes >= PARALLEL_MIN_BYTES && opts.layers >= 2 ? Math.max(1, Math.min(MAX_WORKERS, cores - 1, opts.layers - 1)) : 0);
  if (n > 0) {
    try {
      return new LayerPool(n);
    } catch {
      // no worker entry in this build: write in this thread
    }
  }
  return { workers: 0, write: (tmpPath, inputs) => writeLayer(tmpPath, inputs), abort() {}, close() {} };
}

/**
 * Where the worker's code is: in the compiled binary, the entry scripts/build.ts embeds, named by its path below the
 * build's root (an absolute /$bunfs path, so nothing is ever looked up on disk); from source, the file beside this one.
 */
function workerUrl(): string {
  return import.meta.url.startsWith("file:///$bunfs/") ? "/$bunfs/root/src/snapshot/layer-worker.js" : new URL("./layer-worker.ts", import.meta.url).href;
}

interface Task {
  job: LayerJob;
  resolve: (layer: WrittenLayer) => void;
  reject: (e: Error) => void;
}

class LayerPool implements LayerWriter {
  readonly workers: number;
  #all: Worker[] = [];
  #idle: Worker[] = [];
  /** Each busy worker's tasks (more than one only for `now` writes), answered by their seq. */
  #busy = new Map<Worker, Task[]>();
  #queue: Task[] = [];
  #seq = 0;
  /** This thread is writing a layer too (between the workers' messages: one layer, then it yields). */
  #selfBusy = false;

  constructor(n: number) {
    this.workers = n;
    const url = workerUrl();
    try {
      for (let i = 0; i < n; i++) {
        const w = new Worker(url);
        w.onmessage = (ev: MessageEvent<LayerJobResult>) => this.#done(w, ev.data);
        w.onerror = (ev: ErrorEvent) => this.#lost(w, ev.message);
        this.#all.push(w);
        this.#idle.push(w);
      }
    } catch (e) {
      this.close();
      throw e;
    }
  }

  write(tmpPath: string, inputs: LayerInput[], now = false): Promise<WrittenLayer> {
    return new Promise((resolve, reject) => {
      const task = { job: { seq: ++this.#seq, tmpPath, inputs }, resolve, reject };
      const w = now ? (this.#idle.at(-1) ?? this.#leastBusy()) : undefined;
      if (w) this.#send(w, task);
      else {
        this.#queue.push(task);
        this.#pump();
      }
    });
  }

  #leastBusy(): Worker | undefined {
    let best: Worker | undefined;
    for (const w of this.#all) if (!best || (this.#busy.get(w)?.length ?? 0) < (this.#busy.get(best)?.length ?? 0)) best = w;
    return best;
  }

  #send(w: Worker, task: Task): void {
    this.#idle = this.#idle.filter((x) => x !== w);
    const tasks = this.#busy.get(w);
    if (tasks) tasks.push(task);
    else this.#busy.set(w, [task]);
    w.postMessage(task.job);
  }

  abort(reason: Error): void {
    for (const t of this.#queue.splice(0)) t.reject(reason);
  }

  close(): void {
    this.abort(runtimeError("the snapshot workers were closed", "run the build again", "snapshot_worker_failed"));
    for (const w of this.#all) w.terminate();
    this.#all = [];
    this.#idle = [];
  }

  #pump(): void {
    while (this.#idle.length && this.#queue.length) this.#send(this.#idle.at(-1)!, this.#queue.shift()!);
    if (!this.#selfBusy && this.#queue.length) {
      const task = this.#queue.shift()!;
      this.#selfBusy = true;
      // A macrotask, so the workers' answers are handled between this thread's layers.
      setImmediate(() => {
        writeLayer(task.job.tmpPath, task.job.inputs)
          .then(task.resolve, task.reject)
          .finally(() => {
            this.#selfBusy = false;
            this.#pump();
          });
      });
    }
  }

  #done(w: Worker, r: LayerJobResult): void {
    const tasks = this.#busy.get(w) ?? [];
    const at = tasks.findIndex((t) => t.job.seq === r.seq);
    const task = at === -1 ? undefined : tasks.splice(at, 1)[0];
    if (!tasks.length) {
      this.#busy.delete(w);
      this.#idle.push(w);
    }
    if (task) {
      if ("error" in r) {
        const { message, code, exitCode, hint } = r.error;
        task.reject(code ? new AosError(message, { code, exitCode: exitCode ?? ExitCode.failure, hint }) : new Error(message));
      } else task.resolve(r.layer);
    }
    this.#pump();
  }

  /** A worker that died takes its tasks with it; the others carry on. */
  #lost(w: Worker, message: string): void {
    const tasks = this.#busy.get(w) ?? [];
    this.#busy.delete(w);
    this.#all = this.#all.filter((x) => x !== w);
    this.#idle = this.#idle.filter((x) => x !== w);
    w.terminate();
    for (const task of tasks) task.reject(runtimeError(`a snapshot worker failed: ${message}`, "run the build again", "snapshot_worker_failed"));
    this.#pump();
  }
}
