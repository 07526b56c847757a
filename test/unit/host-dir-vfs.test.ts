/**
 * The workspace filesystem on a real host directory: paths stay inside it, host symlinks out of it lead nowhere, the
 * guest cannot make one, and read-only means no change at all. The VM-level proofs are test/e2e/workspace-mount.test.ts.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, lstatSync, mkdtempSync, readFileSync, readlinkSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { HostDirectoryVfs, MAX_WHOLE_FILE_BYTES } from "../../src/runtime/host-dir-vfs.ts";

let root: string;
let outside: string;
beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), "aos-vfs-unit-"));
  outside = mkdtempSync(join(tmpdir(), "aos-vfs-unit-out-"));
  writeFileSync(join(outside, "secret"), "outside");
  writeFileSync(join(root, "a.txt"), "inside");
  symlinkSync(join(outside, "secret"), join(root, "abs-out"));
  symlinkSync("../" + outside.split("/").pop() + "/secret", join(root, "rel-out"));
  symlinkSync(join(root, "a.txt"), join(root, "abs-in"));
});
afterAll(() => {
  rmSync(root, { recursive: true, force: true });
  rmSync(outside, { recursive: true, force: true });
});
const vfs = () => new HostDirectoryVfs({ root, guestPath: "/workspace" });
const code = (p: Promise<unknown>) => p.then(() => "OK", (e) => e.code as string);

describe("HostDirectoryVfs", () => {
  test("'..' never climbs above the root; errors name the guest path, never the host's", async () => {
    expect(new TextDecoder().decode(await vfs().readFile("/../../a.txt"))).toBe("inside");
    const e = await vfs().readFile("/missing").catch((x) => x);
    expect(e.message).toBe("ENOENT: no such file or directory, open '/workspace/missing'");
    expect(e.message).not.toContain(root);
  });

  test("host symlinks out of the root lead nowhere, for reading and writing; one inside (even absolute) is followed", async () => {
    for (const p of ["/abs-out", "/rel-out"]) {
      expect(await code(vfs().readFile(p))).toBe("ENOENT");
      expect(await code(vfs().writeFile(p, "pwned"))).toBe("ENOENT");
    }
    expect(readFileSync(join(outside, "secret"), "utf8")).toBe("outside");
    expect(new TextDecoder().decode(await vfs().readFile("/abs-in"))).toBe("inside");
    expect((await vfs().lstat("/abs-out")).isSymbolicLink).toBe(true);
  });

  test("a new symlink must stay inside by its text; an absolute one under the mount is stored relative", async () => {
    for (const t of ["/etc/passwd", "../x", "sub/../../x", outside]) expect(await code(vfs().symlink(t, `/l${t.length}`))).toBe("EACCES");
    await vfs().mkdir("/d/e", { recursive: true });
    await vfs().symlink("/workspace/a.txt", "/d/e/to-a");
    expect(readlinkSync(join(root, "d/e/to-a"))).toBe("../../a.txt");
    expect(readFileSync(join(root, "d/e/to-a"), "utf8")).toBe("inside");
  });

  test("read-only: every change is EROFS and nothing changes on the host", async () => {
    const ro = new HostDirectoryVfs({ root, guestPath: "/workspace", readOnly: true });
    const attempts = [
      ro.writeFile("/a.txt", "x"),
      ro.writeFile("/new", "x"),
      ro.pwrite("/a.txt", 0, new Uint8Array([1])),
      ro.truncate("/a.txt", 0),
      ro.mkdir("/nd"),
      ro.removeFile("/a.txt"),
      ro.rename("/a.txt", "/b.txt"),
      ro.symlink("a.txt", "/sl"),
      ro.link("/a.txt", "/hl"),
      ro.chmod("/a.txt", 0o777),
      ro.utimes("/a.txt", 0, 0),
    ];
    expect(await Promise.all(attempts.map(code))).toEqual(attempts.map(() => "EROFS"));
    expect(readFileSync(join(root, "a.txt"), "utf8")).toBe("inside");
    for (const p of ["new", "nd", "b.txt", "sl", "hl"]) expect(existsSync(join(root, p))).toBe(false);
    expect(lstatSync(join(root, "a.txt")).mode & 0o777).not.toBe(0o777);
    expect(new TextDecoder().decode(await ro.readFile("/a.txt"))).toBe("inside");
  });

  test("a file too large for the bridge to carry whole is EFBIG for readFile, and still readable in ranges", async () => {
    writeFileSync(join(root, "big"), Buffer.alloc(MAX_WHOLE_FILE_BYTES + 1, 7));
    expect(await code(vfs().readFile("/big"))).toBe("EFBIG");
    expect([...(await vfs().pread("/big", MAX_WHOLE_FILE_BYTES - 1, 10))]).toEqual([7, 7]);
  });
});
