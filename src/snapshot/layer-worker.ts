/**
 * A worker of layer-pool.ts: writes the layers it is sent (read, hash, write; layer.ts's writeLayer as is) and
 * answers each with the written layer or the error. It is an entry point of the compiled binary (scripts/build.ts).
 */
import { isAosError } from "../errors.ts";
import { writeLayer } from "./layer.ts";
import type { LayerJob, LayerJobResult } from "./layer-pool.ts";

declare const self: Worker;

self.onmessage = async (ev: MessageEvent<LayerJob>) => {
  const { seq, tmpPath, inputs } = ev.data;
  let reply: LayerJobResult;
  try {
    reply = { seq, layer: await writeLayer(tmpPath, inputs) };
  } catch (e) {
    const err = e as Error;
    reply = isAosError(e)
      ? { seq, error: { message: e.message, code: e.code, exitCode: e.exitCode, hint: e.hint } }
      : { seq, error: { message: err?.message ?? String(e) } };
  }
  self.postMessage(reply);
};
