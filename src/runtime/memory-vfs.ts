/**
 * A read-only directory of files held in this process, mounted in a VM through agentOS's js_bridge and answered here
 * (src/runtime/sidecar-router.ts). The host changes a file by setting it: no sidecar round trip, so a worker's spare VM
 * gets its run's file (src/worker/spares.ts) in no time, however busy the sidecar is. The guest can only read.
 */
import type { VirtualFileSystem } from "@rivet-dev/agentos-core";
import { GuestFsError, pathSegments } from "../guest.ts";

type VirtualStat = Awaited<ReturnType<VirtualFileSystem["stat"]>>;
type VirtualDirEntry = Awaited<ReturnType<VirtualFileSystem["readDirWithTypes"]>>[number];

const FILE_MODE = 0o100400;
const DIR_MODE = 0o040500;

export class MemoryDirVfs implements VirtualFileSystem {
  private readonly files = new Map<string, { bytes: Uint8Array; mtimeMs: number; ino: number }>();
  private readonly created = Date.now();
  private nextIno = 2;

  /** @param guestPath where the guest sees it (for error messages) */
  constructor(
    private readonly guestPath: string,
    private readonly owner: { uid: number; gid: number } = { uid: process.getuid?.() ?? 0, gid: process.getgid?.() ?? 0 },
  ) {}

  /** A directory holding these files (plain names). */
  static of(guestPath: string, files: Readonly<Record<string, string>>): MemoryDirVfs {
    const dir = new MemoryDirVfs(guestPath);
    for (const [name, content] of Object.entries(files)) dir.set(name, content);
    return dir;
  }

  /** Put a file (a plain name, no directories), replacing what was there. */
  set(name: string, content: string | Uint8Array): void {
    if (pathSegments(name).length !== 1 || name.includes("/")) throw new Error(`not a plain file name: ${name}`);
    this.files.set(name, { bytes: typeof content === "string" ? new TextEncoder().encode(content) : content, mtimeMs: Date.now(), ino: this.nextIno++ });
  }

  delete(name: string): void {
    this.files.delete(name);
  }

  private guestOf(path: string): string {
    const segs = pathSegments(path);
    return segs.length ? `${this.guestPath}/${segs.join("/")}` : this.guestPath;
  }

  /** "" for the directory itself, the file's name, or ENOENT. */
  private find(path: string, op: string): string {
    const segs = pathSegments(path);
    if (segs.length === 0) return "";
    if (segs.length === 1 && this.files.has(segs[0]!)) return segs[0]!;
    throw new GuestFsError("ENOENT", op, this.guestOf(path));
  }

  private file(path: string, op: string) {
    const name = this.find(path, op);
    if (name === "") throw new GuestFsError("EISDIR", op, this.guestOf(path));
    return this.files.get(name)!;
  }

  private statOf(name: string): VirtualStat {
    const f = name === "" ? undefined : this.files.get(name);
    const t = f?.mtimeMs ?? this.created;
    return {
      mode: f ? FILE_MODE : DIR_MODE,
      size: f?.bytes.length ?? 0,
      blocks: f ? Math.ceil(f.bytes.length / 512) : 0,
      dev: 0,
      rdev: 0,
      isDirectory: !f,
      isSymbolicLink: false,
      atimeMs: t,
      mtimeMs: t,
      ctimeMs: t,
      birthtimeMs: t,
      ino: f?.ino ?? 1,
      nlink: f ? 1 : 2,
      uid: this.owner.uid,
      gid: this.owner.gid,
    };
  }

  private readOnly(op: string, path: string): Promise<never> {
    return Promise.reject(new GuestFsError("EROFS", op, this.guestOf(path)));
  }

  private attempt<T>(fn: () => T): Promise<T> {
    try {
      return Promise.resolve(fn());
    } catch (e) {
      return Promise.reject(e);
    }
  }

  readFile(path: string): Promise<Uint8Array> {
    return this.attempt(() => this.file(path, "open").bytes.slice());
  }

  async readTextFile(path: string): Promise<string> {
    return new TextDecoder().decode(await this.readFile(path));
  }

  pread(path: string, offset: number, length: number): Promise<Uint8Array> {
    return this.attempt(() => this.file(path, "read").bytes.slice(offset, offset + length));
  }

  readDir(path: string): Promise<string[]> {
    return this.attempt(() => {
      if (this.find(path, "scandir") !== "") throw new GuestFsError("ENOTDIR", "scandir", this.guestOf(path));
      return [...this.files.keys()].sort();
    });
  }

  async readDirWithTypes(path: string): Promise<VirtualDirEntry[]> {
    return (await this.readDir(path)).map((name) => ({ name, isDirectory: false, isSymbolicLink: false }));
  }

  stat(path: string): Promise<VirtualStat> {
    return this.attempt(() => this.statOf(this.find(path, "stat")));
  }

  lstat(path: string): Promise<VirtualStat> {
    return this.attempt(() => this.statOf(this.find(path, "lstat")));
  }

  async exists(path: string): Promise<boolean> {
    try {
      this.find(path, "access");
      return true;
    } catch {
      return false;
    }
  }

  realpath(path: string): Promise<string> {
    return this.attempt(() => {
      const name = this.find(path, "realpath");
      return name === "" ? "/" : `/${name}`;
    });
  }

  readlink(path: string): Promise<string> {
    return this.attempt(() => {
      this.find(path, "readlink");
      throw new GuestFsError("EINVAL", "readlink", this.guestOf(path));
    });
  }

  writeFile(path: string, _content?: string | Uint8Array): Promise<void> {
    return this.readOnly("open", path);
  }
  createDir(path: string): Promise<void> {
    return this.readOnly("mkdir", path);
  }
  mkdir(path: string, _options?: { recursive?: boolean }): Promise<void> {
    return this.readOnly("mkdir", path);
  }
  removeFile(path: string): Promise<void> {
    return this.readOnly("unlink", path);
  }
  removeDir(path: string): Promise<void> {
    return this.readOnly("rmdir", path);
  }
  rename(oldPath: string, _newPath?: string): Promise<void> {
    return this.readOnly("rename", oldPath);
  }
  symlink(_target: string, linkPath: string): Promise<void> {
    return this.readOnly("symlink", linkPath);
  }
  link(_oldPath: string, newPath: string): Promise<void> {
    return this.readOnly("link", newPath);
  }
  chmod(path: string, _mode?: number): Promise<void> {
    return this.readOnly("chmod", path);
  }
  chown(path: string, _uid?: number, _gid?: number): Promise<void> {
    return this.readOnly("chown", path);
  }
  /** The kernel touches a directory's times after reading it on a writable mount: a no-op, not a failure. */
  utimes(path: string, _atime?: number, _mtime?: number): Promise<void> {
    return this.attempt(() => void this.find(path, "utime"));
  }
  truncate(path: string, _length?: number): Promise<void> {
    return this.readOnly("truncate", path);
  }
  pwrite(path: string, _offset?: number, _data?: Uint8Array): Promise<void> {
    return this.readOnly("write", path);
  }
}
