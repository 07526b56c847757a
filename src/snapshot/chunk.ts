/**
 * Split a sorted entry list into layers, chunked by content so that a small change rewrites one layer, not all.
 *
 * A layer ends after an entry whose path hashes to 0 mod AVG_ENTRIES (so boundaries depend on paths, not on
 * positions: inserting or changing a file moves no boundary but its own), before and after a big file (which gets a
 * layer of its own), and when a layer would pass MAX_LAYER_BYTES. The same tree always gives the same layers, and
 * identical layers across snapshots are stored once.
 */
export const AVG_ENTRIES = 64;
export const BIG_FILE = 4 << 20;
export const MAX_LAYER_BYTES = 16 << 20;
const MAX_LAYER_ENTRIES = 4096;

export interface Chunkable {
  rel: string;
  type: "f" | "d" | "l";
  size: number;
}

/** FNV-1a over the path's UTF-16 units: cheap, stable, good enough to spread boundaries. */
function pathHash(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h;
}

export function chunkEntries<T extends Chunkable>(entries: T[]): T[][] {
  const groups: T[][] = [];
  let cur: T[] = [];
  let bytes = 0;
  const cut = () => {
    if (cur.length) groups.push(cur);
    cur = [];
    bytes = 0;
  };
  for (const e of entries) {
    const big = e.type === "f" && e.size >= BIG_FILE;
    if (big || (cur.length > 0 && (bytes + e.size > MAX_LAYER_BYTES || cur.length >= MAX_LAYER_ENTRIES))) cut();
    cur.push(e);
    bytes += e.type === "f" ? e.size : 0;
    if (big || pathHash(e.rel) % AVG_ENTRIES === 0) cut();
  }
  cut();
  return groups;
}
