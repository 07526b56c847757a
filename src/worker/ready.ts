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
