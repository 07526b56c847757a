import type { WorkerStatus } from "./server.ts";

/**
 * Wait until a started `serve` says it is ready: read its output until `marker` appears (its "worker ready" line on
 * stderr, or the JSON line `serve --json` prints on stdout), then keep draining the stream in the background so a
 * full pipe never blocks the worker. Returns what was read; throws if the stream ends first.
 */
export async function untilServing(stream: ReadableStream<Uint8Array>, marker: string): Promise<string> {
  const reader = stream.getReader();
  const decoder = new TextDecoder();
  let text = "";
  while (!text.includes(marker)) {
    const { value, done } = await reader.read();
    if (done) throw new Error(`serve exited before it was ready:\n${text}`);
    text += decoder.decode(value, { stream: true });
  }
  void (async () => {
    while (!(await reader.read()).done);
  })();
  return text;
}

/**
 * Wait (at most `timeoutMs`) until a worker is quiet: no heartbeat running, no spare VM or session's next VM being
 * made, no sidecar recycle pending (`--max-growth`: a heartbeat's end judged, a replacement warmed), and a spare ready for `agent`'s policies once it knows one (another agent's spares do not serve it). This is
 * the state between heartbeats minutes apart, which the bench and `eval` measure from. `status` asks the worker
 * (`serve --status`); returns the last status (undefined if the worker does not answer).
 */
export async function untilSettled(status: () => Promise<WorkerStatus | undefined>, opts: { agent?: string; timeoutMs?: number } = {}): Promise<WorkerStatus | undefined> {
  const until = Date.now() + (opts.timeoutMs ?? 30_000);
  let s: WorkerStatus | undefined;
  for (;;) {
    s = await status().catch(() => undefined);
    if (s && settled(s, opts.agent)) return s;
    if (Date.now() >= until) return s;
    await Bun.sleep(250);
  }
}

function settled(s: WorkerStatus, agent: string | undefined): boolean {
  const { spares, resumable } = s.warm;
  const mine = spares.policies.filter((p) => p.agent === agent);
  const spareReady = mine.length ? mine.some((p) => p.ready > 0 || p.failed) : spares.ready >= Math.min(1, spares.max) || spares.policies.some((p) => p.failed);
  // (A worker older than sidecarSettling has no such state.)
  return s.running === 0 && spares.building === 0 && resumable.preparing === 0 && spareReady && !s.warm.sidecarSettling;
}
