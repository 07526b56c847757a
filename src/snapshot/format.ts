/**
 * The on-disk layer format. A layer is one immutable, content-addressed file (like an OCI layer blob):
 *
 *   [file contents, back to back][header: UTF-8 JSON][u32 LE header length]["AOL1"]
 *
 * The header lists every entry of the layer (sorted by path) with its mode, mtime and, for a file, its size, its
 * offset in the data region and the SHA-256 of its content. The layer id is the SHA-256 of the header bytes, so the id
 * commits to every byte of content through the per-file digests: checking the header against the id when a layer is
 * opened and a file's digest when it is first read detects any corruption, without hashing the whole layer on every
 * boot. Contents come first so a build can stream files into the layer while hashing them and write the header last.
 */
import { pathSegments } from "../guest.ts";

const LAYER_MAGIC = "AOL1";
export const TRAILER_BYTES = 8;

/** f file, d directory, l symlink, w whiteout (the path and everything below it was deleted by this layer). */
export type EntryType = "f" | "d" | "l" | "w";

/** One entry of a layer. Paths are relative to the snapshot root, '/'-separated, normalised; the root itself is "". */
export interface LayerEntry {
  p: string;
  t: EntryType;
  /** Permission bits (mode & 0o7777); 0 for a whiteout. */
  m: number;
  /** Modification time in whole milliseconds. */
  mt: number;
  /** Files: size in bytes, offset in the data region, SHA-256 (hex) of the content. */
  s?: number;
  o?: number;
  h?: string;
  /** Symlinks: the target exactly as stored on disk (never resolved on the host). */
  l?: string;
}

export interface LayerHeader {
  v: 1;
  /** Bytes of the data region (file contents). */
  data: number;
  entries: LayerEntry[];
}

export function sha256Hex(data: string | Uint8Array): string {
  return new Bun.CryptoHasher("sha256").update(data).digest("hex");
}

/**
 * Serialise a header. Written out by hand rather than through JSON.stringify of fresh objects: a cached rebuild
 * encodes every layer's header to compute its id, and this is most of that work. The key order is fixed, so the same
 * entries always give the same bytes (the layer id depends on it).
 */
export function encodeHeader(h: LayerHeader): Uint8Array {
  const parts: string[] = new Array(h.entries.length);
  for (let i = 0; i < h.entries.length; i++) {
    const e = h.entries[i]!;
    let s = `{"p":${JSON.stringify(e.p)},"t":"${e.t}","m":${e.m},"mt":${e.mt}`;
    if (e.t === "f") s += `,"s":${e.s},"o":${e.o},"h":"${e.h}"`;
    else if (e.t === "l") s += `,"l":${JSON.stringify(e.l ?? "")}`;
    parts[i] = `${s}}`;
  }
  return new TextEncoder().encode(`{"v":${h.v},"data":${h.data},"entries":[${parts.join(",")}]}`);
}

export function trailer(headerLength: number): Uint8Array {
  const t = new Uint8Array(TRAILER_BYTES);
  new DataView(t.buffer).setUint32(0, headerLength, true);
  t.set(new TextEncoder().encode(LAYER_MAGIC), 4);
  return t;
}

/** Parse a trailer; null when the bytes are not one. */
export function parseTrailer(t: Uint8Array): { headerLength: number } | null {
  if (t.length !== TRAILER_BYTES) return null;
  if (new TextDecoder().decode(t.subarray(4)) !== LAYER_MAGIC) return null;
  return { headerLength: new DataView(t.buffer, t.byteOffset, t.byteLength).getUint32(0, true) };
}

const HEX64 = /^[0-9a-f]{64}$/;

/** Check a parsed header's shape; the reader trusts nothing it did not check. */
export function validateHeader(x: unknown): LayerHeader | string {
  if (!x || typeof x !== "object") return "header is not an object";
  const h = x as Record<string, unknown>;
  if (h.v !== 1) return `unknown layer format version ${String(h.v)}`;
  if (typeof h.data !== "number" || !Number.isSafeInteger(h.data) || h.data < 0) return "bad data length";
  if (!Array.isArray(h.entries)) return "entries missing";
  let prev: string | undefined;
  for (const e of h.entries as LayerEntry[]) {
    if (!e || typeof e.p !== "string" || normalizeRel(e.p) !== e.p) return `bad path ${JSON.stringify(e?.p)}`;
    if (prev !== undefined && !(prev < e.p)) return `entries not sorted at ${e.p}`;
    prev = e.p;
    if (!["f", "d", "l", "w"].includes(e.t)) return `bad type at ${e.p}`;
    if (!Number.isInteger(e.m) || e.m < 0 || e.m > 0o7777 || !Number.isFinite(e.mt)) return `bad metadata at ${e.p}`;
    if (e.t === "f") {
      if (!Number.isSafeInteger(e.s) || !Number.isSafeInteger(e.o) || e.s! < 0 || e.o! < 0 || e.o! + e.s! > h.data) return `bad extent at ${e.p}`;
      if (typeof e.h !== "string" || !HEX64.test(e.h)) return `bad digest at ${e.p}`;
    }
    if (e.t === "l" && typeof e.l !== "string") return `bad symlink at ${e.p}`;
  }
  return h as unknown as LayerHeader;
}

/**
 * Normalise a relative path: '/'-separated, no empty, '.' or '..' segments, no leading or trailing slash. `..` is
 * resolved lexically and can never climb above the root ("../../x" is "x"): nothing in a snapshot can name a path
 * outside it.
 */
export function normalizeRel(path: string): string {
  return pathSegments(path).join("/");
}

export function parentOf(rel: string): string {
  const i = rel.lastIndexOf("/");
  return i === -1 ? "" : rel.slice(0, i);
}

export function baseName(rel: string): string {
  return rel.slice(rel.lastIndexOf("/") + 1);
}

export function joinRel(dir: string, name: string): string {
  return dir === "" ? name : `${dir}/${name}`;
}

/** True when `path` is `dir` or below it. */
export function isWithin(path: string, dir: string): boolean {
  return dir === "" || path === dir || path.startsWith(`${dir}/`);
}

/** Layer and snapshot ids are "sha256:<hex>"; people may write a unique prefix of the hex. */
export const ID_PREFIX = "sha256:";
export function shortId(id: string): string {
  return id.replace(ID_PREFIX, "").slice(0, 12);
}
