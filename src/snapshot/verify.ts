/**
 * Is a stored layer whole? A build reuses a layer only if so: a damaged one is written again from the source instead
 * of being handed to the next run. The full check reads the layer (header digest, every file's digest); a stamp of the
 * file's (size, mtime, inode) when it was last known whole skips it while the file is unchanged, so a cached rebuild
 * still reads no file contents.
 */
import { LayerReader } from "./layer.ts";
import type { SnapshotStore } from "./store.ts";

export function layerIntact(store: SnapshotStore, id: string): boolean {
  if (!store.hasLayer(id)) return false;
  if (store.layerStamped(id)) return true;
  let reader: LayerReader | undefined;
  try {
    reader = new LayerReader(id, store.layerPath(id));
    for (const e of reader.header.entries) reader.verify(e);
  } catch {
    return false;
  } finally {
    reader?.close();
  }
  store.stampLayer(id);
  return true;
}
