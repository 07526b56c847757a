import { describe, expect, test } from "bun:test";
import { MemoryDirVfs } from "../../src/runtime/index.ts";

/** The in-memory directory a spare VM reads its run file from (the guest's side is in test/e2e/shared-sidecar.test.ts). */
describe("MemoryDirVfs", () => {
  test("serves the files set from the host, the latest content, and nothing else", async () => {
    const fs = new MemoryDirVfs("/home/agentos/.paperclip");
    expect(await fs.readDir("/")).toEqual([]);
    await expect(fs.readFile("/run.json")).rejects.toThrow(/^ENOENT: .*'\/home\/agentos\/.paperclip\/run.json'/);
    fs.set("run.json", '{"a":1}');
    fs.set("run.json", '{"a":2}');
    expect(await fs.readTextFile("/run.json")).toBe('{"a":2}');
    expect(new TextDecoder().decode(await fs.pread("run.json", 1, 3))).toBe('"a"');
    expect(await fs.readDir("/")).toEqual(["run.json"]);
    expect(await fs.stat("/run.json")).toMatchObject({ isDirectory: false, size: 7, mode: 0o100400 });
    expect(await fs.stat("/")).toMatchObject({ isDirectory: true });
    // Other names for the same file are the same file; no name climbs out of the directory.
    expect(await fs.readTextFile("/x/../run.json")).toBe('{"a":2}');
    expect(await fs.exists("/../../etc/passwd")).toBe(false);
    await expect(fs.readFile("/")).rejects.toThrow(/^EISDIR/);
    expect(() => fs.set("../escape", "x")).toThrow();
    expect(() => fs.set("a/b", "x")).toThrow();
  });

  test("the guest cannot change anything", async () => {
    const fs = new MemoryDirVfs("/run");
    fs.set("run.json", "x");
    const writes: [string, Promise<unknown>][] = [
      ["writeFile", fs.writeFile("/run.json", "evil")],
      ["pwrite", fs.pwrite("/run.json", 0, new Uint8Array([1]))],
      ["truncate", fs.truncate("/run.json", 0)],
      ["removeFile", fs.removeFile("/run.json")],
      ["rename", fs.rename("/run.json", "/other")],
      ["mkdir", fs.mkdir("/d")],
      ["symlink", fs.symlink("/etc/passwd", "/l")],
      ["link", fs.link("/run.json", "/l")],
      ["chmod", fs.chmod("/run.json", 0o777)],
    ];
    for (const [op, p] of writes) await expect(p, op).rejects.toThrow(/^EROFS/);
    expect(await fs.readTextFile("/run.json")).toBe("x");
    expect(await fs.readDir("/")).toEqual(["run.json"]);
  });
});
