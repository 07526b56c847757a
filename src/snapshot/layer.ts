/**
 * Writing and reading layer files (format.ts). The writer streams contents into a temp file in the store and the
 * store renames it into place under its id, so a crash mid-build leaves a temp file and never a half layer. The reader
 * checks the header against the id on open and each file's digest on its first read.
 */
import { closeSync, constants, fstatSync, openSync, readFileSync, readSync, writeSync, ftruncateSync } from "node:fs";
import { runtimeError } from "../errors.ts";
import {
  encodeHeader,
  ID_PREFIX,
  parseTrailer,
  sha256Hex,
  shortId,
  trailer,
  TRAILER_BYTES,
  validateHeader,
  type LayerEntry,
  type LayerHeader,
} from "./format.ts";

/** Files up to this size are read whole (one syscall) and deduplicated before they are written. */
const SMALL_FILE = 1 << 20;
const CHUNK = 1 << 20;
const BUFFER = 4 << 20;

/** What a layer holds besides file contents: dirs, symlinks, whiteouts, and files given as bytes or a host path. */
export type LayerInput =
  | { p: string; t: "d"; m: number; mt: number }
  | { p: string; t: "l"; m: number; mt: number; l: string }
  | { p: string; t: "w" }
  | { p: string; t: "f"; m: number; mt: number; data: Uint8Array }
  | { p: string; t: "f"; m: number; mt: number; hostPath: string };

export interface WrittenLayer {
  id: string;
  header: LayerHeader;
  /** Bytes of the layer file. */
  size: number;
}

/**
 * Stream entries (sorted by path) into `tmpPath` and return the header and id. The caller renames the file to its
 * id. Identical contents within a layer are stored once.
 */
export async function writeLayer(tmpPath: string, inputs: Iterable<LayerInput>): Promise<WrittenLayer> {
  const fd = openSync(tmpPath, "w", 0o444);
  const buf = takeBuffer();
  const entries: LayerEntry[] = [];
  /** Where each content (by digest) already is in the data region. */
  const offsets = new Map<string, number>();
  let pos = 0; // bytes of data written to the file (flushed)
  let used = 0;
  const flush = () => {
    let off = 0;
    while (off < used) off += writeSync(fd, buf, off, used - off, pos + off);
    pos += used;
    used = 0;
  };
  const append = (data: Uint8Array): number => {
    const at = pos + used;
    if (used + data.length > buf.length) flush();
    if (data.length > buf.length) {
      let off = 0;
      while (off < data.length) off += writeSync(fd, data, off, data.length - off, pos + off);
      pos += data.length;
    } else {
      buf.set(data, used);
      used += data.length;
    }
    return at;
  };
  const store = (data: Uint8Array): { size: number; digest: string; offset: number } => {
    const digest = sha256Hex(data);
    return { size: data.length, digest, offset: offsets.get(digest) ?? append(data) };
  };
  /**
   * A small file read straight into the write buffer (no buffer of its own: 5,000 files would be 5,000 allocations
   * and a copy each), kept there only if its content is new to the layer. One byte more than its size is asked for:
   * a file that grew since fstat is read whole the ordinary way.
   */
  const stageSmallFile = (src: number, size: number): { size: number; digest: string; offset: number } => {
    if (used + size + 1 > buf.length) flush();
    let n = 0;
    for (;;) {
      const r = readSync(src, buf, used + n, size + 1 - n, n);
      if (r === 0) break;
      n += r;
      if (n > size) return store(readFileSync(src));
    }
    const data = buf.subarray(used, used + n);
    const digest = sha256Hex(data);
    const known = offsets.get(digest);
    if (known !== undefined) return { size: n, digest, offset: known };
    const at = pos + used;
    used += n;
    return { size: n, digest, offset: at };
  };
  /** Read a host file (never following a symlink: the walk only hands us regular files) into the layer. */
  const copyHostFile = (path: string): { size: number; digest: string; offset: number } => {
    // O_NOFOLLOW: if the file was swapped for a symlink since the walk, fail instead of reading where it points.
    let src: number;
    try {
      src = openSync(path, constants.O_RDONLY | constants.O_NOFOLLOW);
    } catch (e) {
      throw sourceChanged(path, e);
    }
    try {
      const st = fstatSync(src);
      if (!st.isFile()) throw noLongerAFile(path);
      if (st.size <= SMALL_FILE) return stageSmallFile(src, st.size);
      // Large file: stream it at the end of the data region; if its content is already in the layer, the next write
      // goes over it (and the final truncate cuts what is left).
      flush();
      const hash = new Bun.CryptoHasher("sha256");
      const chunk = new Uint8Array(CHUNK);
      let size = 0;
      for (;;) {
        const n = readSync(src, chunk, 0, CHUNK, size);
        if (n === 0) break;
        hash.update(chunk.subarray(0, n));
        let off = 0;
        while (off < n) off += writeSync(fd, chunk, off, n - off, pos + size + off);
        size += n;
      }
      const digest = hash.digest("hex");
      const known = offsets.get(digest);
      if (known !== undefined) return { size, digest, offset: known };
      pos += size;
      return { size, digest, offset: pos - size };
    } finally {
      closeSync(src);
    }
  };
  try {
    for (const input of inputs) {
      if (input.t === "w") entries.push({ p: input.p, t: "w", m: 0, mt: 0 });
      else if (input.t === "d") entries.push({ p: input.p, t: "d", m: input.m, mt: input.mt });
      else if (input.t === "l") entries.push({ p: input.p, t: "l", m: input.m, mt: input.mt, l: input.l });
      else {
        const { size, digest, offset } = "data" in input ? store(input.data) : copyHostFile(input.hostPath);
        if (!offsets.has(digest)) offsets.set(digest, offset);
        entries.push({ p: input.p, t: "f", m: input.m, mt: input.mt, s: size, o: offset, h: digest });
      }
    }
    flush();
    const header: LayerHeader = { v: 1, data: pos, entries };
    const bytes = encodeHeader(header);
    writeSync(fd, bytes, 0, bytes.length, pos);
    writeSync(fd, trailer(bytes.length), 0, TRAILER_BYTES, pos + bytes.length);
    ftruncateSync(fd, pos + bytes.length + TRAILER_BYTES);
    return { id: ID_PREFIX + sha256Hex(bytes), header, size: pos + bytes.length + TRAILER_BYTES };
  } finally {
    closeSync(fd);
    spare = buf;
  }
}

/**
 * A source file the walk saw that cannot be read now: removed, or swapped for a symlink (O_NOFOLLOW's ELOOP), since
 * the walk; or unreadable. The user's error, said in one line, not a bug's stack.
 */
function sourceChanged(path: string, e: unknown) {
  const code = (e as NodeJS.ErrnoException).code;
  if (code === "ENOENT") return runtimeError(`${path} was removed while the snapshot was being built`, "run the build again", "snapshot_source_changed");
  if (code === "ELOOP") return noLongerAFile(path);
  return runtimeError(`cannot read ${path}: ${(e as Error).message}`, "fix its permissions or leave it out with --exclude", "snapshot_source_unreadable");
}

const noLongerAFile = (path: string) => runtimeError(`${path} is no longer a regular file`, "run the build again", "snapshot_source_changed");

/** One write buffer, reused layer after layer (a fresh 4 MB zeroed buffer per layer cost more than the hashing). */
let spare: Uint8Array | undefined;
function takeBuffer(): Uint8Array {
  const b = spare ?? new Uint8Array(BUFFER);
  spare = undefined;
  return b;
}

/** Read the header of a layer file and check it against the id. Throws the integrity error on any mismatch. */
function readLayerHeader(path: string, id: string): { header: LayerHeader; fd: number; size: number } {
  let fd: number;
  try {
    fd = openSync(path, "r");
  } catch {
    throw integrityError(id, "the layer file is missing");
  }
  try {
    const size = fstatSync(fd).size;
    if (size < TRAILER_BYTES) throw integrityError(id, "the layer file is truncated");
    const t = new Uint8Array(TRAILER_BYTES);
    readSync(fd, t, 0, TRAILER_BYTES, size - TRAILER_BYTES);
    const tr = parseTrailer(t);
    if (!tr || tr.headerLength > size - TRAILER_BYTES) throw integrityError(id, "the layer trailer is damaged");
    const hb = new Uint8Array(tr.headerLength);
    readSync(fd, hb, 0, hb.length, size - TRAILER_BYTES - hb.length);
    if (ID_PREFIX + sha256Hex(hb) !== id) throw integrityError(id, "the header digest does not match the layer id");
    let parsed: unknown;
    try {
      parsed = JSON.parse(new TextDecoder().decode(hb));
    } catch {
      throw integrityError(id, "the header is not JSON");
    }
    const header = validateHeader(parsed);
    if (typeof header === "string") throw integrityError(id, header);
    if (header.data + hb.length + TRAILER_BYTES !== size) throw integrityError(id, "the data region has the wrong length");
    return { header, fd, size };
  } catch (e) {
    closeSync(fd);
    throw e;
  }
}

function integrityError(id: string, what: string, file?: string) {
  return runtimeError(
    `snapshot layer ${shortId(id)} is corrupted: ${what}${file ? ` (${file})` : ""}`,
    "the store was changed outside paperclip-aos; rebuild the snapshot with 'paperclip-aos snapshot build', then run 'paperclip-aos snapshot gc'",
    "snapshot_corrupted",
  );
}

/** An open layer: its entries and positional reads of file contents, each file checked against its digest once. */
export class LayerReader {
  readonly header: LayerHeader;
  private readonly fd: number;
  private readonly verified = new Set<number>();
  private closed = false;

  constructor(
    readonly id: string,
    readonly path: string,
  ) {
    const r = readLayerHeader(path, id);
    this.header = r.header;
    this.fd = r.fd;
  }

  /** Read a file's bytes [start, start+length) after checking the whole file's digest (once per file). */
  read(entry: LayerEntry, start = 0, length = entry.s ?? 0): Uint8Array {
    this.verify(entry);
    const size = entry.s ?? 0;
    const from = Math.min(Math.max(0, start), size);
    const n = Math.max(0, Math.min(length, size - from));
    return this.pread(entry.o! + from, n);
  }

  /** Hash the file's extent and compare with the header's digest. */
  verify(entry: LayerEntry): void {
    if (this.verified.has(entry.o!) || entry.t !== "f") return;
    const hash = new Bun.CryptoHasher("sha256");
    const size = entry.s ?? 0;
    for (let off = 0; off < size; off += CHUNK) hash.update(this.pread(entry.o! + off, Math.min(CHUNK, size - off)));
    if (hash.digest("hex") !== entry.h) throw integrityError(this.id, "a file's content does not match its digest", entry.p);
    this.verified.add(entry.o!);
  }

  private pread(position: number, length: number): Uint8Array {
    const out = new Uint8Array(length);
    let got = 0;
    while (got < length) {
      const n = readSync(this.fd, out, got, length - got, position + got);
      if (n === 0) throw integrityError(this.id, "the layer file is shorter than its header says");
      got += n;
    }
    return out;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    closeSync(this.fd);
  }
}
