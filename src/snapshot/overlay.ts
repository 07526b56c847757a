/**
 * The snapshot as a filesystem the VM mounts at /workspace (agentOS calls it through its js_bridge mount plugin).
 *
 * Lower: the snapshot's layers, merged bottom to top (a whiteout deletes a path and what is below it). Upper: this
 * object's own copy-on-write view, in host memory: metadata changes touch only the view, and a file's bytes stay in
 * its layer until the guest writes to it. Nothing is ever written back to a layer, so every run starts from the same
 * tree, and two runs on one snapshot (each with its own view) never see each other's writes. At the end the view is
 * compared with the lower tree to export or commit the changes (changes.ts), then dropped.
 *
 * Paths come from agentOS normalised and relative to the mount; they are normalised again here, and `..` can never
 * climb above the mount root. A symlink is followed only inside the snapshot: a target that leaves it (absolute, or
 * `..` past the root) resolves to nothing here (ENOENT), never to a host path.
 *
 * Errors carry errno names in the message because that is what the js_bridge maps back to guest errno values.
 */
import type { LayerStore } from "@rivet-dev/agentos-core";
import { sha256Hex, isWithin, joinRel, normalizeRel, parentOf, baseName, type LayerEntry } from "./format.ts";
import type { LayerReader } from "./layer.ts";
import type { AosError } from "../errors.ts";
import { GuestFsError as FsError } from "../guest.ts";

/** agentOS's VirtualFileSystem (not exported by name in 0.2.21): what a LayerStore's overlay must implement. */
type VirtualFileSystem = ReturnType<LayerStore["createOverlayFilesystem"]>;
type VirtualStat = Awaited<ReturnType<VirtualFileSystem["stat"]>>;
type VirtualDirEntry = Awaited<ReturnType<VirtualFileSystem["readDirWithTypes"]>>[number];

/** A node of the merged lower tree (read-only). */
export interface LowerNode {
  type: "f" | "d" | "l";
  mode: number;
  mtime: number;
  entry: LayerEntry;
  layer?: LayerReader;
}

/** A node of the live view. */
interface Node {
  type: "f" | "d" | "l";
  mode: number;
  mtime: number;
  atime: number;
  ctime: number;
  uid: number;
  gid: number;
  ino: number;
  /** Content still in a layer (files not yet written to). */
  lower?: LowerNode;
  /** Content in memory (written or copied up). */
  data?: Uint8Array;
  target?: string;
}

const S_IFREG = 0o100000;
const S_IFDIR = 0o040000;
const S_IFLNK = 0o120000;
const MAX_SYMLINKS = 40;

/** Merge layers (bottom to top) into one tree. */
export function mergeLayers(layers: LayerReader[]): Map<string, LowerNode> {
  const tree = new Map<string, LowerNode>();
  const dropBelow = (p: string) => {
    const prefix = p === "" ? "" : `${p}/`;
    for (const k of tree.keys()) if (k !== p && k.startsWith(prefix)) tree.delete(k);
  };
  for (const layer of layers) {
    for (const e of layer.header.entries) {
      if (e.t === "w") {
        tree.delete(e.p);
        dropBelow(e.p);
        continue;
      }
      const prev = tree.get(e.p);
      if (prev?.type === "d" && e.t !== "d") dropBelow(e.p);
      tree.set(e.p, { type: e.t, mode: e.m, mtime: e.mt, entry: e, ...(e.t === "f" ? { layer } : {}) });
    }
  }
  // A node whose parent is not a directory (only a damaged stack could hold one) is left out.
  for (const k of [...tree.keys()].sort()) {
    if (k === "") continue;
    if (tree.get(parentOf(k))?.type !== "d") tree.delete(k);
  }
  if (!tree.has("")) tree.set("", { type: "d", mode: 0o755, mtime: Date.now(), entry: { p: "", t: "d", m: 0o755, mt: Date.now() } });
  return tree;
}

export interface OverlayOptions {
  uid: number;
  gid: number;
  /** Called once per integrity failure (a layer file changed on disk); the guest sees EIO. */
  onIntegrityError?: (e: AosError) => void;
}

export class SnapshotOverlay implements VirtualFileSystem {
  private readonly nodes = new Map<string, Node>();
  private readonly children = new Map<string, Set<string>>();
  private nextIno = 1;
  readonly integrityErrors: AosError[] = [];

  constructor(
    readonly lower: Map<string, LowerNode>,
    private readonly opts: OverlayOptions,
  ) {
    const now = Date.now();
    for (const [p, l] of [...lower].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
      this.put(p, {
        type: l.type,
        mode: l.mode,
        mtime: l.mtime,
        atime: l.mtime,
        ctime: l.mtime || now,
        uid: opts.uid,
        gid: opts.gid,
        ino: this.nextIno++,
        ...(l.type === "f" ? { lower: l } : {}),
        ...(l.type === "l" ? { target: l.entry.l } : {}),
      });
    }
  }

  // ---- tree bookkeeping ----
  private put(p: string, n: Node): void {
    this.nodes.set(p, n);
    if (p !== "") {
      const parent = parentOf(p);
      let set = this.children.get(parent);
      if (!set) this.children.set(parent, (set = new Set()));
      set.add(baseName(p));
    }
    if (n.type === "d" && !this.children.has(p)) this.children.set(p, new Set());
  }

  private drop(p: string): void {
    const n = this.nodes.get(p);
    if (!n) return;
    if (n.type === "d") for (const c of [...(this.children.get(p) ?? [])]) this.drop(joinRel(p, c));
    this.nodes.delete(p);
    this.children.delete(p);
    if (p !== "") this.children.get(parentOf(p))?.delete(baseName(p));
  }

  /**
   * Resolve a path to its node. Symlinks in the middle are always followed, the last one only when `follow`.
   * Returns the resolved key; the node is undefined when only the last segment is missing (and `allowMissing`).
   */
  private resolve(path: string, follow: boolean, op: string, allowMissing = false): { key: string; node?: Node } {
    let pending = normalizeRel(path).split("/").filter(Boolean);
    let cur = "";
    let hops = 0;
    while (pending.length) {
      const seg = pending.shift()!;
      const key = joinRel(cur, seg);
      const node = this.nodes.get(key);
      const last = pending.length === 0;
      if (!node) {
        if (last && allowMissing) return { key };
        throw new FsError("ENOENT", op, `/${path.replace(/^\/+/, "")}`);
      }
      if (node.type === "l" && (!last || follow)) {
        if (++hops > MAX_SYMLINKS) throw new FsError("ELOOP", op, path);
        const target = node.target ?? "";
        const outside = target.startsWith("/") || escapes(cur, target);
        if (outside) throw new FsError("ENOENT", op, path);
        pending = [...normalizeRel(joinRel(cur, target)).split("/").filter(Boolean), ...pending];
        cur = "";
        continue;
      }
      if (!last && node.type !== "d") throw new FsError("ENOTDIR", op, path);
      cur = key;
    }
    return { key: cur, node: this.nodes.get(cur) };
  }

  private need(path: string, follow: boolean, op: string): { key: string; node: Node } {
    const r = this.resolve(path, follow, op);
    return r as { key: string; node: Node };
  }

  private parentDir(path: string, op: string): { dir: string; name: string } {
    const rel = normalizeRel(path);
    if (rel === "") throw new FsError("EEXIST", op, "/");
    const parent = this.need(parentOf(rel), true, op);
    if (parent.node.type !== "d") throw new FsError("ENOTDIR", op, path);
    return { dir: parent.key, name: baseName(rel) };
  }

  /** A file's bytes (all, or [start, start+length)), from memory or checked against the digest in its layer. */
  /** A new entry at `path` (never through a symlink at the last segment); EEXIST when something is there. */
  private create(path: string, op: string, make: () => Node): void {
    const r = this.resolve(path, false, op, true);
    if (r.node) throw new FsError("EEXIST", op, path);
    const { dir, name } = this.parentDir(r.key, op);
    this.put(joinRel(dir, name), make());
  }

  private content(n: Node, key: string, op: string, start?: number, length?: number): Uint8Array {
    if (n.data) return start === undefined ? n.data : n.data.slice(start, start + length!);
    if (!n.lower?.layer) return new Uint8Array(0);
    try {
      return n.lower.layer.read(n.lower.entry, start, length);
    } catch (e) {
      this.integrity(e);
      throw new FsError("EIO", op, key);
    }
  }

  private integrity(e: unknown): void {
    const err = e as AosError;
    if (this.integrityErrors.some((x) => x.message === err.message)) return;
    this.integrityErrors.push(err);
    this.opts.onIntegrityError?.(err);
  }

  /** A file node's size, without reading its bytes. */
  fileSize(n: Readonly<Node>): number {
    return n.data ? n.data.length : (n.lower?.entry.s ?? 0);
  }

  private statOf(n: Node): VirtualStat {
    const size = n.type === "l" ? new TextEncoder().encode(n.target ?? "").length : n.type === "d" ? 4096 : this.fileSize(n);
    const kind = n.type === "d" ? S_IFDIR : n.type === "l" ? S_IFLNK : S_IFREG;
    return {
      mode: kind | n.mode,
      size,
      blocks: Math.ceil(size / 512),
      dev: 0x5a0a,
      rdev: 0,
      isDirectory: n.type === "d",
      isSymbolicLink: n.type === "l",
      atimeMs: Math.floor(n.atime),
      mtimeMs: Math.floor(n.mtime),
      ctimeMs: Math.floor(n.ctime),
      birthtimeMs: Math.floor(n.mtime),
      ino: n.ino,
      nlink: n.type === "d" ? 2 : 1,
      uid: n.uid,
      gid: n.gid,
    };
  }

  private newNode(type: Node["type"], mode: number, extra: Partial<Node> = {}): Node {
    const now = Date.now();
    return { type, mode, mtime: now, atime: now, ctime: now, uid: this.opts.uid, gid: this.opts.gid, ino: this.nextIno++, ...extra };
  }

  /** Copy a file's bytes up into memory before an in-place change. */
  private materialize(n: Node, key: string, op: string): Uint8Array {
    if (!n.data) {
      n.data = new Uint8Array(this.content(n, key, op));
      n.lower = undefined;
    }
    return n.data;
  }

  private touch(n: Node): void {
    n.mtime = n.ctime = Date.now();
  }

  // ---- VirtualFileSystem ----
  async readFile(path: string): Promise<Uint8Array> {
    const { key, node } = this.need(path, true, "open");
    if (node.type === "d") throw new FsError("EISDIR", "read", path);
    return this.content(node, key, "read");
  }

  async readTextFile(path: string): Promise<string> {
    return new TextDecoder().decode(await this.readFile(path));
  }

  async pread(path: string, offset: number, length: number): Promise<Uint8Array> {
    const { key, node } = this.need(path, true, "open");
    if (node.type === "d") throw new FsError("EISDIR", "read", path);
    return this.content(node, key, "read", offset, length);
  }

  private dirNames(path: string): { dir: string; names: string[] } {
    const { key, node } = this.need(path, true, "scandir");
    if (node.type !== "d") throw new FsError("ENOTDIR", "scandir", path);
    return { dir: key, names: [...(this.children.get(key) ?? [])].sort() };
  }

  async readDir(path: string): Promise<string[]> {
    return this.dirNames(path).names;
  }

  async readDirWithTypes(path: string): Promise<VirtualDirEntry[]> {
    const { dir, names } = this.dirNames(path);
    return names.map((name) => {
      const n = this.nodes.get(joinRel(dir, name))!;
      return { name, isDirectory: n.type === "d", isSymbolicLink: n.type === "l" };
    });
  }

  async writeFile(path: string, content: string | Uint8Array): Promise<void> {
    const bytes = typeof content === "string" ? new TextEncoder().encode(content) : new Uint8Array(content);
    const r = this.resolve(path, true, "open", true);
    if (r.node) {
      if (r.node.type === "d") throw new FsError("EISDIR", "open", path);
      r.node.data = bytes;
      r.node.lower = undefined;
      this.touch(r.node);
      return;
    }
    const { dir, name } = this.parentDir(r.key, "open");
    this.put(joinRel(dir, name), this.newNode("f", 0o644, { data: bytes }));
  }

  async pwrite(path: string, offset: number, data: Uint8Array): Promise<void> {
    const { key, node } = this.need(path, true, "write");
    if (node.type === "d") throw new FsError("EISDIR", "write", path);
    const cur = this.materialize(node, key, "write");
    const end = offset + data.length;
    if (end > cur.length) {
      const grown = new Uint8Array(end);
      grown.set(cur);
      node.data = grown;
    }
    node.data!.set(data, offset);
    this.touch(node);
  }

  async truncate(path: string, length: number): Promise<void> {
    const { key, node } = this.need(path, true, "truncate");
    if (node.type === "d") throw new FsError("EISDIR", "truncate", path);
    const cur = this.materialize(node, key, "truncate");
    const next = new Uint8Array(length);
    next.set(cur.subarray(0, Math.min(length, cur.length)));
    node.data = next;
    this.touch(node);
  }

  async createDir(path: string): Promise<void> {
    this.create(path, "mkdir", () => this.newNode("d", 0o755));
  }

  async mkdir(path: string, options?: { recursive?: boolean }): Promise<void> {
    const rel = normalizeRel(path);
    if (!options?.recursive) return this.createDir(rel);
    const segs = rel.split("/").filter(Boolean);
    let cur = "";
    for (const seg of segs) {
      const r = this.resolve(joinRel(cur, seg), true, "mkdir", true);
      if (!r.node) this.put(r.key, this.newNode("d", 0o755));
      else if (r.node.type !== "d") throw new FsError("ENOTDIR", "mkdir", path);
      cur = r.key;
    }
  }

  async exists(path: string): Promise<boolean> {
    try {
      this.resolve(path, true, "access");
      return true;
    } catch {
      return false;
    }
  }

  async stat(path: string): Promise<VirtualStat> {
    return this.statOf(this.need(path, true, "stat").node);
  }

  async lstat(path: string): Promise<VirtualStat> {
    return this.statOf(this.need(path, false, "lstat").node);
  }

  async removeFile(path: string): Promise<void> {
    const { key, node } = this.need(path, false, "unlink");
    if (node.type === "d") throw new FsError("EISDIR", "unlink", path);
    this.drop(key);
  }

  async removeDir(path: string): Promise<void> {
    const { key, node } = this.need(path, false, "rmdir");
    if (node.type !== "d") throw new FsError("ENOTDIR", "rmdir", path);
    if (key === "") throw new FsError("EINVAL", "rmdir", path);
    if ((this.children.get(key)?.size ?? 0) > 0) throw new FsError("ENOTEMPTY", "rmdir", path);
    this.drop(key);
  }

  async rename(oldPath: string, newPath: string): Promise<void> {
    const from = this.need(oldPath, false, "rename");
    if (from.key === "") throw new FsError("EINVAL", "rename", oldPath);
    const to = this.resolve(newPath, false, "rename", true);
    const { dir, name } = this.parentDir(to.key, "rename");
    const dest = joinRel(dir, name);
    if (dest === from.key) return;
    if (from.node.type === "d" && isWithin(dest, from.key)) throw new FsError("EINVAL", "rename", newPath);
    const existing = this.nodes.get(dest);
    if (existing) {
      if (from.node.type === "d" && existing.type !== "d") throw new FsError("ENOTDIR", "rename", newPath);
      if (from.node.type !== "d" && existing.type === "d") throw new FsError("EISDIR", "rename", newPath);
      if (existing.type === "d" && (this.children.get(dest)?.size ?? 0) > 0) throw new FsError("ENOTEMPTY", "rename", newPath);
      this.drop(dest);
    }
    // Move the subtree: collect it first, then re-insert under the new name (parents before children).
    const moved: [string, Node][] = [];
    const collect = (k: string) => {
      const n = this.nodes.get(k)!;
      moved.push([k, n]);
      if (n.type === "d") for (const c of [...(this.children.get(k) ?? [])].sort()) collect(joinRel(k, c));
    };
    collect(from.key);
    this.drop(from.key);
    for (const [k, n] of moved) this.put(dest + k.slice(from.key.length), n);
    from.node.ctime = Date.now();
  }

  async realpath(path: string): Promise<string> {
    return `/${this.need(path, true, "realpath").key}`;
  }

  async symlink(target: string, linkPath: string): Promise<void> {
    this.create(linkPath, "symlink", () => this.newNode("l", 0o777, { target }));
  }

  async readlink(path: string): Promise<string> {
    const { node } = this.need(path, false, "readlink");
    if (node.type !== "l") throw new FsError("EINVAL", "readlink", path);
    return node.target ?? "";
  }

  /** Hard links are copies here: the view has no shared inodes. */
  async link(oldPath: string, newPath: string): Promise<void> {
    const from = this.need(oldPath, true, "link");
    if (from.node.type === "d") throw new FsError("EISDIR", "link", oldPath);
    const n = from.node;
    this.create(newPath, "link", () => this.newNode(n.type, n.mode, { lower: n.lower, data: n.data ? new Uint8Array(n.data) : undefined, target: n.target }));
  }

  async chmod(path: string, mode: number): Promise<void> {
    const { node } = this.need(path, true, "chmod");
    node.mode = mode & 0o7777;
    node.ctime = Date.now();
  }

  async chown(path: string, uid: number, gid: number, options?: { followSymlinks?: boolean }): Promise<void> {
    const { node } = this.need(path, options?.followSymlinks !== false, "chown");
    if (uid >= 0) node.uid = uid;
    if (gid >= 0) node.gid = gid;
  }

  async utimes(path: string, atime: number, mtime: number): Promise<void> {
    const { node } = this.need(path, true, "utime");
    node.atime = atime;
    node.mtime = mtime;
  }

  // ---- the view as a tree, for changes.ts ----
  /** Every path of the live view with its node, parents before children. */
  *walk(): Generator<[string, Readonly<Node>]> {
    const visit = function* (this: SnapshotOverlay, k: string): Generator<[string, Readonly<Node>]> {
      const n = this.nodes.get(k)!;
      yield [k, n];
      if (n.type === "d") for (const c of [...(this.children.get(k) ?? [])].sort()) yield* visit.call(this, joinRel(k, c));
    };
    yield* visit.call(this, "");
  }

  /** A file node's bytes (from memory or its layer), checked against the digest when read from a layer. */
  bytesOf(key: string, n: Readonly<Node>): Uint8Array {
    return this.content(n as Node, key, "read");
  }

  /** The digest of a file node's content (no read when the bytes are still the layer's). */
  digestOf(n: Readonly<Node>): string {
    if (n.data) return sha256Hex(n.data);
    return n.lower?.entry.h ?? sha256Hex(new Uint8Array(0));
  }
}

/** Does `target`, taken relative to directory `dir`, climb above the root? */
function escapes(dir: string, target: string): boolean {
  let depth = dir === "" ? 0 : dir.split("/").length;
  for (const seg of target.split("/")) {
    if (seg === "" || seg === ".") continue;
    if (seg === "..") {
      if (--depth < 0) return true;
    } else depth++;
  }
  return false;
}
