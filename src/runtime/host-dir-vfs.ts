/**
 * The host workspace as a filesystem of our own, mounted at /workspace through agentOS's js_bridge (a plain
 * `{ path, driver, readOnly }` mount) instead of its native `host_dir` plugin.
 *
 * Why: agentOS 0.2.21 asks the fs permission rules about every operation that goes through its kernel, but the native
 * host_dir plugin lets the sidecar write host paths for node programs without asking them (docs/caps.md). A js_bridge
 * mount is reached only through the kernel, so the policy decides every guest operation, node's included; this class
 * only carries out what the kernel already allowed.
 *
 * Confinement: a guest path is taken relative to the mount, normalised lexically (`..` never climbs above the root),
 * and resolved component by component with lstat, following a symlink only while it stays inside the root (a relative
 * target, or an absolute one under the guest mount or the host root). A link that leaves the root resolves to nothing
 * (ENOENT), never to the host path it names, and the last component is opened with O_NOFOLLOW. Every operation is
 * synchronous, so the check and the use of a path cannot interleave with another guest operation on this mount.
 * New symlinks must stay inside the root by their text (otherwise EACCES), so that host tools that read the workspace
 * never meet a guest-made link out of it.
 *
 * Files are the host's own: modes, mtimes, symlinks and hard links are those of the host tree.
 */
import {
  chmodSync,
  chownSync,
  closeSync,
  constants,
  fstatSync,
  ftruncateSync,
  lchownSync,
  linkSync,
  lstatSync,
  mkdirSync,
  openSync,
  readdirSync,
  readlinkSync,
  readSync,
  realpathSync,
  renameSync,
  rmdirSync,
  symlinkSync,
  unlinkSync,
  utimesSync,
  writeSync,
  type Stats,
} from "node:fs";
import { join, posix } from "node:path";
import type { VirtualFileSystem } from "@rivet-dev/agentos-core";
import { GuestFsError, pathSegments } from "../guest.ts";

type VirtualStat = Awaited<ReturnType<VirtualFileSystem["stat"]>>;
type VirtualDirEntry = Awaited<ReturnType<VirtualFileSystem["readDirWithTypes"]>>[number];

const MAX_SYMLINKS = 40;
/** The largest file the js_bridge carries whole: measured, 10 MB passes and 20 MB breaks the connection (base64 in a frame). */
export const MAX_WHOLE_FILE_BYTES = 10 * 1000 * 1000;
const { O_RDONLY, O_WRONLY, O_CREAT, O_TRUNC, O_NOFOLLOW } = constants;

interface Resolved {
  /** Segments below the root, every one a real directory or (the last) the entry itself. */
  segs: string[];
  host: string;
  /** lstat of the last segment; undefined when it is missing (only with allowMissing). */
  st?: Stats;
}

export interface HostDirectoryVfsOptions {
  /** The host directory (must exist). */
  root: string;
  /** Where the guest sees it, for absolute symlink targets and error messages. */
  guestPath: string;
  readOnly?: boolean;
  /**
   * How much the guest may add to the directory through this mount (bytes, net: what it removes or shrinks counts
   * back); past it a write fails with ENOSPC. The VM's own quota does not bound a worker's spare or prepared VM,
   * whose quota is fixed large before its workspace is known (src/worker/spares.ts), so this is the bound there.
   */
  allowanceBytes?: number;
}

export class HostDirectoryVfs implements VirtualFileSystem {
  private readonly root: string;
  private readonly realRoot: string;
  private readonly guestPath: string;
  private readonly readOnly: boolean;
  private readonly allowance: number;
  /** Bytes the guest has added (net) through this mount. */
  private added = 0;

  constructor(opts: HostDirectoryVfsOptions) {
    this.root = opts.root;
    this.realRoot = realpathSync(opts.root);
    this.guestPath = opts.guestPath.replace(/\/+$/, "");
    this.readOnly = opts.readOnly ?? false;
    this.allowance = opts.allowanceBytes ?? Infinity;
  }

  /** A change of `delta` bytes to the tree is about to be made: refused past the allowance, else counted. */
  private grow(delta: number, op: string, path: string): void {
    if (delta > 0 && this.added + delta > this.allowance) throw new GuestFsError("ENOSPC", op, this.guestOf(path));
    this.added += delta;
  }

  /** What removing this entry gives back: a file's size, unless another name keeps its data. */
  private freed(st: Stats): number {
    return st.isFile() && st.nlink === 1 ? st.size : 0;
  }

  // ---- resolution ----
  private hostOf(segs: string[]): string {
    return segs.length ? join(this.realRoot, ...segs) : this.realRoot;
  }

  private guestOf(path: string): string {
    const segs = pathSegments(path);
    return segs.length ? `${this.guestPath}/${segs.join("/")}` : this.guestPath;
  }

  /** A symlink's target as segments below the root, or undefined when it leaves the root. */
  private linkTarget(dir: string[], target: string): string[] | undefined {
    if (target.startsWith("/")) {
      for (const base of [this.guestPath, this.realRoot, this.root]) {
        if (target === base || target.startsWith(`${base}/`)) return pathSegments(target.slice(base.length));
      }
      return undefined;
    }
    let depth = dir.length;
    for (const seg of target.split("/")) {
      if (seg === "" || seg === ".") continue;
      if (seg === "..") {
        if (--depth < 0) return undefined;
      } else depth++;
    }
    return pathSegments([...dir, target].join("/"));
  }

  private resolve(path: string, follow: boolean, op: string, allowMissing = false): Resolved {
    let pending = pathSegments(path);
    let cur: string[] = [];
    let hops = 0;
    if (pending.length === 0) return { segs: [], host: this.realRoot, st: lstatSync(this.realRoot) };
    while (pending.length) {
      const seg = pending.shift()!;
      const last = pending.length === 0;
      const host = this.hostOf([...cur, seg]);
      const st = lstatSync(host, { throwIfNoEntry: false });
      if (!st) {
        if (last && allowMissing) return { segs: [...cur, seg], host };
        throw new GuestFsError("ENOENT", op, this.guestOf(path));
      }
      if (st.isSymbolicLink() && (!last || follow)) {
        if (++hops > MAX_SYMLINKS) throw new GuestFsError("ELOOP", op, this.guestOf(path));
        const inner = this.linkTarget(cur, readlinkSync(host));
        if (!inner) throw new GuestFsError("ENOENT", op, this.guestOf(path));
        pending = [...inner, ...pending];
        cur = [];
        if (pending.length === 0) return { segs: [], host: this.realRoot, st: lstatSync(this.realRoot) };
        continue;
      }
      if (!last && !st.isDirectory()) throw new GuestFsError("ENOTDIR", op, this.guestOf(path));
      cur = [...cur, seg];
      if (last) return { segs: cur, host, st };
    }
    throw new GuestFsError("ENOENT", op, this.guestOf(path));
  }

  private existing(path: string, follow: boolean, op: string): Resolved & { st: Stats } {
    return this.resolve(path, follow, op) as Resolved & { st: Stats };
  }

  /** Run one operation; host errors come back as errno errors on the guest path (never naming the host path). */
  private run<T>(op: string, path: string, write: boolean, fn: () => T): Promise<T> {
    try {
      if (write && this.readOnly) throw new GuestFsError("EROFS", op, this.guestOf(path));
      return Promise.resolve(fn());
    } catch (e) {
      if (e instanceof GuestFsError) return Promise.reject(e);
      const code = (e as NodeJS.ErrnoException).code;
      return Promise.reject(new GuestFsError(code && /^E[A-Z0-9]+$/.test(code) ? code : "EIO", op, this.guestOf(path)));
    }
  }

  private withFd<T>(host: string, flags: number, fn: (fd: number) => T, mode = 0o666): T {
    const fd = openSync(host, flags | O_NOFOLLOW, mode);
    try {
      return fn(fd);
    } finally {
      closeSync(fd);
    }
  }

  private readRange(path: string, op: string, offset?: number, length?: number): Uint8Array {
    const r = this.existing(path, true, "open");
    if (r.st.isDirectory()) throw new GuestFsError("EISDIR", op, this.guestOf(path));
    return this.withFd(r.host, O_RDONLY, (fd) => {
      const start = offset ?? 0;
      const want = length ?? Math.max(0, fstatSync(fd).size - start);
      const buf = Buffer.alloc(want);
      let got = 0;
      while (got < want) {
        const n = readSync(fd, buf, got, want - got, start + got);
        if (n === 0) break;
        got += n;
      }
      return new Uint8Array(buf.buffer, buf.byteOffset, got);
    });
  }

  private writeAll(fd: number, data: Uint8Array, position: number): void {
    let done = 0;
    while (done < data.length) done += writeSync(fd, data, done, data.length - done, position + done);
  }

  private statOf(st: Stats): VirtualStat {
    return {
      mode: st.mode,
      size: st.size,
      blocks: st.blocks,
      dev: st.dev,
      rdev: st.rdev,
      isDirectory: st.isDirectory(),
      isSymbolicLink: st.isSymbolicLink(),
      atimeMs: Math.floor(st.atimeMs),
      mtimeMs: Math.floor(st.mtimeMs),
      ctimeMs: Math.floor(st.ctimeMs),
      birthtimeMs: Math.floor(st.birthtimeMs),
      ino: st.ino,
      nlink: st.nlink,
      uid: st.uid,
      gid: st.gid,
    };
  }

  /** Where a new entry goes: nothing may be there yet (the last segment is never followed). */
  private fresh(path: string, op: string): Resolved {
    const r = this.resolve(path, false, op, true);
    if (r.st || r.segs.length === 0) throw new GuestFsError("EEXIST", op, this.guestOf(path));
    return r;
  }

  // ---- VirtualFileSystem ----
  /**
   * The kernel reads a whole file to change it (reads go through pread); past MAX_WHOLE_FILE_BYTES the answer would not
   * fit the sidecar's frame and agentOS 0.2.21 drops the VM's connection, so the guest gets EFBIG instead.
   */
  readFile(path: string): Promise<Uint8Array> {
    return this.run("read", path, false, () => {
      const r = this.existing(path, true, "open");
      if (r.st.isFile() && r.st.size > MAX_WHOLE_FILE_BYTES) throw new GuestFsError("EFBIG", "read", this.guestOf(path));
      return this.readRange(path, "read");
    });
  }

  async readTextFile(path: string): Promise<string> {
    return new TextDecoder().decode(await this.readFile(path));
  }

  pread(path: string, offset: number, length: number): Promise<Uint8Array> {
    return this.run("read", path, false, () => this.readRange(path, "read", offset, length));
  }

  private dir(path: string): Resolved & { st: Stats } {
    const r = this.existing(path, true, "scandir");
    if (!r.st.isDirectory()) throw new GuestFsError("ENOTDIR", "scandir", this.guestOf(path));
    return r;
  }

  readDir(path: string): Promise<string[]> {
    return this.run("scandir", path, false, () => readdirSync(this.dir(path).host).sort());
  }

  readDirWithTypes(path: string): Promise<VirtualDirEntry[]> {
    return this.run("scandir", path, false, () =>
      readdirSync(this.dir(path).host, { withFileTypes: true })
        .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
        .map((d) => ({ name: d.name, isDirectory: d.isDirectory(), isSymbolicLink: d.isSymbolicLink() })),
    );
  }

  writeFile(path: string, content: string | Uint8Array): Promise<void> {
    return this.run("open", path, true, () => {
      const bytes = typeof content === "string" ? new TextEncoder().encode(content) : content;
      const r = this.resolve(path, true, "open", true);
      if (r.st?.isDirectory()) throw new GuestFsError("EISDIR", "open", this.guestOf(path));
      this.grow(bytes.length - (r.st?.size ?? 0), "write", path);
      this.withFd(r.host, O_WRONLY | O_CREAT | O_TRUNC, (fd) => this.writeAll(fd, bytes, 0));
    });
  }

  pwrite(path: string, offset: number, data: Uint8Array): Promise<void> {
    return this.run("write", path, true, () => {
      const r = this.existing(path, true, "write");
      if (r.st.isDirectory()) throw new GuestFsError("EISDIR", "write", this.guestOf(path));
      this.grow(Math.max(0, offset + data.length - r.st.size), "write", path);
      this.withFd(r.host, O_WRONLY, (fd) => this.writeAll(fd, data, offset));
    });
  }

  truncate(path: string, length: number): Promise<void> {
    return this.run("truncate", path, true, () => {
      const r = this.existing(path, true, "truncate");
      if (r.st.isDirectory()) throw new GuestFsError("EISDIR", "truncate", this.guestOf(path));
      this.grow(length - r.st.size, "truncate", path);
      this.withFd(r.host, O_WRONLY, (fd) => ftruncateSync(fd, length));
    });
  }

  createDir(path: string): Promise<void> {
    return this.run("mkdir", path, true, () => mkdirSync(this.fresh(path, "mkdir").host));
  }

  mkdir(path: string, options?: { recursive?: boolean }): Promise<void> {
    if (!options?.recursive) return this.createDir(path);
    return this.run("mkdir", path, true, () => {
      let cur: string[] = [];
      for (const seg of pathSegments(path)) {
        const r = this.resolve([...cur, seg].join("/"), true, "mkdir", true);
        if (!r.st) mkdirSync(r.host);
        else if (!r.st.isDirectory()) throw new GuestFsError("ENOTDIR", "mkdir", this.guestOf(path));
        cur = r.segs;
      }
    });
  }

  async exists(path: string): Promise<boolean> {
    try {
      this.resolve(path, true, "access");
      return true;
    } catch {
      return false;
    }
  }

  stat(path: string): Promise<VirtualStat> {
    return this.run("stat", path, false, () => this.statOf(this.existing(path, true, "stat").st));
  }

  lstat(path: string): Promise<VirtualStat> {
    return this.run("lstat", path, false, () => this.statOf(this.existing(path, false, "lstat").st));
  }

  removeFile(path: string): Promise<void> {
    return this.run("unlink", path, true, () => {
      const r = this.existing(path, false, "unlink");
      if (r.st.isDirectory()) throw new GuestFsError("EISDIR", "unlink", this.guestOf(path));
      unlinkSync(r.host);
      this.added -= this.freed(r.st);
    });
  }

  removeDir(path: string): Promise<void> {
    return this.run("rmdir", path, true, () => {
      const r = this.existing(path, false, "rmdir");
      if (r.segs.length === 0) throw new GuestFsError("EBUSY", "rmdir", this.guestOf(path));
      if (!r.st.isDirectory()) throw new GuestFsError("ENOTDIR", "rmdir", this.guestOf(path));
      rmdirSync(r.host);
    });
  }

  rename(oldPath: string, newPath: string): Promise<void> {
    return this.run("rename", oldPath, true, () => {
      const from = this.existing(oldPath, false, "rename");
      if (from.segs.length === 0) throw new GuestFsError("EBUSY", "rename", this.guestOf(oldPath));
      const to = this.resolve(newPath, false, "rename", true);
      if (to.segs.length === 0) throw new GuestFsError("EBUSY", "rename", this.guestOf(newPath));
      // A link's text is read from where it lies: moved up, `../..` that named the root names the host above it.
      if (to.segs.length < from.segs.length && !linksStayInside(from.host, from.st, to.segs.length - 1)) {
        throw new GuestFsError("EACCES", "rename", this.guestOf(oldPath));
      }
      renameSync(from.host, to.host);
    });
  }

  realpath(path: string): Promise<string> {
    return this.run("realpath", path, false, () => `/${this.existing(path, true, "realpath").segs.join("/")}`);
  }

  /**
   * An absolute target under the mount is stored as the same link made relative (the host would read `/workspace/x`
   * as its own path); any other target must stay inside the root by its text.
   */
  symlink(target: string, linkPath: string): Promise<void> {
    return this.run("symlink", linkPath, true, () => {
      const r = this.fresh(linkPath, "symlink");
      const dir = r.segs.slice(0, -1);
      let text = target;
      if (target === this.guestPath || target.startsWith(`${this.guestPath}/`)) {
        text = posix.relative(`/${dir.join("/")}`, `/${pathSegments(target.slice(this.guestPath.length)).join("/")}`) || ".";
      }
      if (!staysInside(dir.length, text)) throw new GuestFsError("EACCES", "symlink", this.guestOf(linkPath));
      symlinkSync(text, r.host);
    });
  }

  readlink(path: string): Promise<string> {
    return this.run("readlink", path, false, () => {
      const r = this.existing(path, false, "readlink");
      if (!r.st.isSymbolicLink()) throw new GuestFsError("EINVAL", "readlink", this.guestOf(path));
      return readlinkSync(r.host);
    });
  }

  link(oldPath: string, newPath: string): Promise<void> {
    return this.run("link", newPath, true, () => {
      const from = this.existing(oldPath, false, "link");
      if (from.st.isDirectory()) throw new GuestFsError("EPERM", "link", this.guestOf(oldPath));
      const to = this.fresh(newPath, "link");
      // A hard link to a symlink is that link at another depth (Linux's link(2) does not follow it).
      if (!linksStayInside(from.host, from.st, to.segs.length - 1)) throw new GuestFsError("EACCES", "link", this.guestOf(newPath));
      linkSync(from.host, to.host);
    });
  }

  chmod(path: string, mode: number): Promise<void> {
    return this.run("chmod", path, true, () => chmodSync(this.existing(path, true, "chmod").host, mode & 0o7777));
  }

  chown(path: string, uid: number, gid: number, options?: { followSymlinks?: boolean }): Promise<void> {
    return this.run("chown", path, true, () => {
      const follow = options?.followSymlinks !== false;
      const r = this.existing(path, follow, "chown");
      (follow ? chownSync : lchownSync)(r.host, uid, gid);
    });
  }

  utimes(path: string, atime: number, mtime: number): Promise<void> {
    return this.run("utime", path, true, () => utimesSync(this.existing(path, true, "utime").host, atime / 1000, mtime / 1000));
  }
}

/**
 * Would every symlink at `host` (itself, or anywhere below it when it is a directory) stay inside the root by its text
 * once `host` lies in a directory `depth` levels down? The same test as for a new link, at each link's new depth.
 */
function linksStayInside(host: string, st: Stats, depth: number): boolean {
  if (st.isSymbolicLink()) return staysInside(depth, readlinkSync(host));
  if (!st.isDirectory()) return true;
  for (const e of readdirSync(host, { withFileTypes: true })) {
    if (!e.isSymbolicLink() && !e.isDirectory()) continue;
    const child = join(host, e.name);
    if (!linksStayInside(child, lstatSync(child), depth + 1)) return false;
  }
  return true;
}

/**
 * Does a new link's text stay inside the root, read from a directory `depth` levels down? Only a relative target of
 * leading `..`s (no more than the depth) then names: a `..` after a name could climb through a host symlink.
 */
function staysInside(depth: number, target: string): boolean {
  if (target === "" || target.startsWith("/")) return false;
  let names = false;
  for (const seg of target.split("/")) {
    if (seg === "" || seg === ".") continue;
    if (seg === "..") {
      if (names || --depth < 0) return false;
    } else names = true;
  }
  return true;
}
