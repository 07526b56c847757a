import { afterAll, describe, expect, test } from "bun:test";
import { mkdir, writeFile, symlink, chmod, readdir, readFile, utimes, open, rename, rm, lutimes } from "node:fs/promises";
import { lstatSync, readdirSync, readFileSync, rmSync, symlinkSync } from "node:fs";
import { join } from "node:path";
import { buildSnapshot } from "../../src/snapshot/build.ts";
import { SnapshotStore } from "../../src/snapshot/store.ts";
import { LayerReader } from "../../src/snapshot/layer.ts";
import { mergeLayers, SnapshotOverlay } from "../../src/snapshot/overlay.ts";
import { commitChanges, computeChanges, exportChanges, CHANGES_MANIFEST } from "../../src/snapshot/changes.ts";
import { gcSnapshots, inspectSnapshot, removeSnapshot } from "../../src/snapshot/admin.ts";
import { openSnapshotRoot } from "../../src/snapshot/root.ts";
import { writeLayer } from "../../src/snapshot/layer.ts";
import { isAosError } from "../../src/errors.ts";
import type { LayerStore, SnapshotLayerHandle } from "@rivet-dev/agentos-core";
import { removeTempDirs, tempDir } from "../tmp.ts";

afterAll(removeTempDirs);

async function tmp(prefix: string) {
  return tempDir(prefix);
}

/** A source tree whose files are old enough that the stat cache trusts them (git's racy rule), with fixed mtimes. */
async function sourceTree(): Promise<string> {
  const dir = await tmp("snap-src-");
  await mkdir(join(dir, "src/lib"), { recursive: true });
  await writeFile(join(dir, "README.md"), "# hi\n");
  await writeFile(join(dir, "src/lib/a.ts"), "export const a = 1;\n");
  await writeFile(join(dir, "src/lib/b.ts"), "export const b = 2;\n");
  await writeFile(join(dir, "src/same1.txt"), "same");
  await writeFile(join(dir, "src/same2.txt"), "same");
  await writeFile(join(dir, "run.sh"), "#!/bin/sh\necho run\n");
  await chmod(join(dir, "run.sh"), 0o755);
  for (let i = 0; i < 300; i++) await writeFile(join(dir, "src", `m${i}.txt`), `file ${i}\n`);
  await symlink("lib/a.ts", join(dir, "src/alias.ts"));
  await age(dir);
  return dir;
}

const OLD = new Date("2024-01-02T03:04:05Z");

/** Give one changed file the tree's fixed mtime again (only its ctime moves, as on any write). */
async function ageFile(path: string) {
  await utimes(path, OLD, OLD);
  await Bun.sleep(100);
}

async function age(dir: string) {
  const old = OLD;
  const walk = async (d: string) => {
    for (const e of await readdir(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isSymbolicLink()) continue;
      if (e.isDirectory()) await walk(p);
      await utimes(p, old, old);
    }
  };
  await walk(dir);
  await Bun.sleep(100); // past the stat cache's racy window (build.ts)
}

function overlayOf(store: SnapshotStore, ref: string) {
  const rec = store.resolve(ref);
  const readers = rec.layers.map((id) => new LayerReader(id, store.layerPath(id)));
  return { rec, readers, ov: new SnapshotOverlay(mergeLayers(readers), { uid: 1000, gid: 1000 }) };
}

const text = (b: Uint8Array) => new TextDecoder().decode(b);

describe("build and the store", () => {
  test("the same tree gives the same id; an unchanged rebuild reads nothing and writes nothing; a one-file change writes one layer", async () => {
    const src = await sourceTree();
    const store = new SnapshotStore(await tmp("snap-store-"));
    const first = await buildSnapshot({ dir: src, name: "app", store });
    expect(first.cached).toBe(false);
    expect(first.layers).toBeGreaterThan(1);
    expect(first.layersWritten).toBe(first.layers);
    expect(first.files).toBe(306);

    const again = await buildSnapshot({ dir: src, store });
    expect(again).toMatchObject({ id: first.id, cached: true, layersWritten: 0 });

    // A second store from a copy of the tree agrees on the id: it is a digest of the content.
    const other = await buildSnapshot({ dir: src, store: new SnapshotStore(await tmp("snap-store-")) });
    expect(other.id).toBe(first.id);

    await writeFile(join(src, "src/m150.txt"), "changed\n");
    await ageFile(join(src, "src/m150.txt"));
    const changed = await buildSnapshot({ dir: src, store });
    expect(changed.id).not.toBe(first.id);
    expect(changed.layersWritten).toBe(1);
    expect(changed.layers).toBe(first.layers);
  });

  test("an unchanged rebuild writes nothing in the store; after it, a rename, a new link target, a mode or a rewrite below it is never missed", async () => {
    const src = await sourceTree();
    const store = new SnapshotStore(await tmp("snap-store-"));
    let last = await buildSnapshot({ dir: src, name: "app", store });
    // Every file and directory of the store, with what any write, rename or removal would move.
    const storeState = () => {
      const out: string[] = [];
      const walk = (d: string) => {
        for (const n of readdirSync(d).sort()) {
          const st = lstatSync(join(d, n));
          out.push(`${join(d, n)} ${st.size} ${st.mtimeMs} ${st.ctimeMs} ${st.ino}`);
          if (st.isDirectory()) walk(join(d, n));
        }
      };
      walk(store.root);
      return out;
    };
    const before = storeState();
    for (const name of ["app", undefined]) {
      expect(await buildSnapshot({ dir: src, name, store })).toMatchObject({ id: last.id, cached: true, layersWritten: 0, files: 306, layers: last.layers });
    }
    expect(storeState()).toEqual(before);
    // Another name is a write (the tag), and the snapshot is the same.
    expect(await buildSnapshot({ dir: src, name: "app2", store })).toMatchObject({ id: last.id, cached: true, layersWritten: 0 });
    expect(store.tagged("app2")).toBe(last.id);

    const { ov: old } = overlayOf(store, "app");
    const oldMode = (await old.lstat("/src/lib")).mode & 0o7777;
    // Each change keeps sizes and puts mtimes back where utimes can (a file's, its directory's, a link's own).
    const changes: [string, () => Promise<void>, (ov: SnapshotOverlay) => Promise<void>][] = [
      [
        "a same-size rewrite two directories down, its and its directory's mtime put back",
        async () => {
          await writeFile(join(src, "src/lib/a.ts"), "export const a = 9;\n");
          await utimes(join(src, "src/lib/a.ts"), OLD, OLD);
          await utimes(join(src, "src/lib"), OLD, OLD);
        },
        async (ov) => expect(await ov.readTextFile("/src/lib/a.ts")).toBe("export const a = 9;\n"),
      ],
      [
        "a rename to a name of the same length",
        async () => {
          await rename(join(src, "src/lib/b.ts"), join(src, "src/lib/c.ts"));
          await utimes(join(src, "src/lib"), OLD, OLD);
        },
        async (ov) => {
          expect(await ov.readTextFile("/src/lib/c.ts")).toBe("export const b = 2;\n");
          await expect(ov.readTextFile("/src/lib/b.ts")).rejects.toThrow();
        },
      ],
      [
        "a link pointed elsewhere (a target of the same length), its own mtime put back",
        async () => {
          await rm(join(src, "src/alias.ts"));
          await symlink("lib/c.ts", join(src, "src/alias.ts"));
          await lutimes(join(src, "src/alias.ts"), OLD, OLD);
          await utimes(join(src, "src"), OLD, OLD);
        },
        async (ov) => expect(await ov.readlink("/src/alias.ts")).toBe("lib/c.ts"),
      ],
      [
        "a directory's mode (chmod moves no mtime)",
        async () => void (await chmod(join(src, "src/lib"), 0o700)),
        async (ov) => expect((await ov.lstat("/src/lib")).mode & 0o7777).toBe(0o700),
      ],
      [
        "a file's mode",
        async () => void (await chmod(join(src, "run.sh"), 0o700)),
        async (ov) => expect((await ov.lstat("/run.sh")).mode & 0o7777).toBe(0o700),
      ],
    ];
    expect(oldMode).not.toBe(0o700);
    for (const [what, change, check] of changes) {
      await change();
      await Bun.sleep(100); // past the racy window: only the fingerprint can tell
      const built = await buildSnapshot({ dir: src, name: "app", store });
      expect({ what, changed: built.id !== last.id }).toEqual({ what, changed: true });
      await check(overlayOf(store, "app").ov);
      // The tree as it is now is the cached one from here on.
      expect(await buildSnapshot({ dir: src, name: "app", store })).toMatchObject({ id: built.id, cached: true, layersWritten: 0 });
      last = built;
    }
  });

  test("layers hold contents once, modes and symlinks; a corrupted byte is an integrity error on read", async () => {
    const src = await sourceTree();
    const store = new SnapshotStore(await tmp("snap-store-"));
    await buildSnapshot({ dir: src, name: "app", store });
    const { ov, readers } = overlayOf(store, "app");
    expect(text(await ov.readFile("/src/lib/a.ts"))).toBe("export const a = 1;\n");
    expect((await ov.stat("/run.sh")).mode & 0o777).toBe(0o755);
    expect(await ov.readlink("/src/alias.ts")).toBe("lib/a.ts");
    expect(text(await ov.readFile("/src/alias.ts"))).toBe("export const a = 1;\n");
    const holder = readers.find((r) => r.header.entries.some((e) => e.p === "src/same1.txt"))!;
    const [s1, s2] = ["src/same1.txt", "src/same2.txt"].map((p) => holder.header.entries.find((e) => e.p === p));
    expect(s1!.o).toBe(s2!.o); // identical contents are stored once

    // Flip one byte of a.ts's content inside its layer file.
    const layer = readers.find((r) => r.header.entries.some((e) => e.p === "src/lib/a.ts"))!;
    const entry = layer.header.entries.find((e) => e.p === "src/lib/a.ts")!;
    const fh = await open(store.layerPath(layer.id), "r+");
    await fh.write(new Uint8Array([0x58]), 0, 1, entry.o! + 3);
    await fh.close();
    const fresh = overlayOf(store, "app");
    await expect(fresh.ov.readFile("/src/lib/a.ts")).rejects.toThrow(/EIO/);
    expect(fresh.ov.integrityErrors[0]?.message).toMatch(/snapshot layer [0-9a-f]{12} is corrupted: a file's content does not match its digest \(src\/lib\/a.ts\)/);
    expect(() => inspectSnapshot("app", { verify: true, store })).toThrow(/is corrupted/);

    // A damaged header is caught when the layer is opened, before anything runs.
    const bytes = readFileSync(store.layerPath(layer.id));
    bytes[bytes.length - 20]! ^= 0xff;
    await writeFile(store.layerPath(layer.id), bytes);
    let err: unknown;
    try {
      new LayerReader(layer.id, store.layerPath(layer.id));
    } catch (e) {
      err = e;
    }
    expect(isAosError(err) && err.code).toBe("snapshot_corrupted");
  });

  test("names: rm of a name keeps a snapshot with another name; gc removes unnamed snapshots and unused layers, never leased ones", async () => {
    const src = await sourceTree();
    const store = new SnapshotStore(await tmp("snap-store-"));
    const a = await buildSnapshot({ dir: src, name: "a", store });
    await store.setTag("a2", a.id);
    expect(removeSnapshot("a", store)).toMatchObject({ removed: false, untagged: ["a"] });
    expect(store.resolve("a2").id).toBe(a.id);

    await writeFile(join(src, "README.md"), "# unnamed\n");
    await ageFile(join(src, "README.md"));
    const unnamed = await buildSnapshot({ dir: src, store });
    const onlyUnnamed = store.resolve(unnamed.id).layers.filter((l) => !store.resolve(a.id).layers.includes(l));
    expect(onlyUnnamed.length).toBe(1);

    // A run holds the unnamed snapshot: gc keeps it and its layer.
    const lease = await store.acquireLease("run", unnamed.id, store.resolve(unnamed.id).layers);
    let r = gcSnapshots({ store });
    expect(r.removedSnapshots).toEqual([]);
    expect(r.removedLayers).toEqual([]);
    lease.release();

    expect(gcSnapshots({ store, dryRun: true }).removedLayers).toEqual(onlyUnnamed);
    expect(store.hasLayer(onlyUnnamed[0]!)).toBe(true);
    r = gcSnapshots({ store });
    expect(r.removedSnapshots).toEqual([unnamed.id]);
    expect(r.removedLayers).toEqual(onlyUnnamed);
    for (const l of store.resolve("a2").layers) expect(store.hasLayer(l)).toBe(true);

    expect(removeSnapshot(a.id.slice(7, 15), store)).toMatchObject({ removed: true, untagged: ["a2"] });
    gcSnapshots({ store });
    expect(store.listLayerIds()).toEqual([]);
  });

  test("a file changed just before a build is not trusted from the stat cache: the next build hashes it again", async () => {
    const dir = await tmp("snap-racy-");
    await writeFile(join(dir, "a.txt"), "one");
    const store = new SnapshotStore(await tmp("snap-store-"));
    const first = await buildSnapshot({ dir, store });
    // Same size, mtime, ctime and inode as cached, but changed within a timestamp tick of the first build's read
    // could look exactly like this: the cache entry is in the racy window, so the content is read again.
    const second = await buildSnapshot({ dir, store });
    expect(second).toMatchObject({ id: first.id, layersWritten: 1 });
  });

  test("a changed file is never missed: same size, same mtime, changed right after a build, in the same second", async () => {
    const src = await sourceTree();
    const store = new SnapshotStore(await tmp("snap-store-"));
    let last = await buildSnapshot({ dir: src, name: "app", store });
    expect(await buildSnapshot({ dir: src, name: "app", store })).toMatchObject({ id: last.id, cached: true, layersWritten: 0 });
    const contents = new Map<string, string>();
    for (let i = 0; i < 300; i++) contents.set(`src/m${i}.txt`, `file ${i}\n`);
    // Each round rewrites files with content of the same length and puts their mtime back (only ctime moves, as with
    // any write), right after the build before it: what a stat cache keyed on size and mtime alone would miss.
    for (const [round, picks] of [[1, [7]], [2, [7, 150, 299]], [3, [42]], [4, [7]]] as const) {
      for (const n of picks) {
        const rel = `src/m${n}.txt`;
        const next = `file ${n}\n`.replace(/^file/, `fil${round}`);
        expect(next.length).toBe(contents.get(rel)!.length);
        await writeFile(join(src, rel), next);
        await utimes(join(src, rel), OLD, OLD);
        contents.set(rel, next);
      }
      const built = await buildSnapshot({ dir: src, name: "app", store });
      expect(built.id).not.toBe(last.id);
      expect(built.layersWritten).toBeGreaterThanOrEqual(1);
      const { ov } = overlayOf(store, "app");
      for (const [rel, want] of contents) expect(text(await ov.readFile(`/${rel}`))).toBe(want);
      last = built;
    }
    // Past the racy window the tree settles; a build of it with and without an --exclude are both cache hits after
    // the first of each (the cache keeps the layers of both).
    await Bun.sleep(100);
    const full = await buildSnapshot({ dir: src, name: "app", store });
    expect(full.id).toBe(last.id);
    const less = await buildSnapshot({ dir: src, exclude: ["m299.txt"], store });
    expect(less.layersWritten).toBeGreaterThanOrEqual(1);
    expect(await buildSnapshot({ dir: src, name: "app", store })).toMatchObject({ id: full.id, cached: true, layersWritten: 0 });
    expect(await buildSnapshot({ dir: src, exclude: ["m299.txt"], store })).toMatchObject({ id: less.id, cached: true, layersWritten: 0 });
  });

  test("a build cache that is not JSON or names no layer is passed over: the build reads the tree and gives the same id", async () => {
    const src = await sourceTree();
    const store = new SnapshotStore(await tmp("snap-store-"));
    const first = await buildSnapshot({ dir: src, name: "app", store });
    const [cacheFile] = readdirSync(store.dir("cache"));
    const path = join(store.dir("cache"), cacheFile!);
    const cache = JSON.parse(readFileSync(path, "utf8"));
    const bogus = (entry: unknown) => JSON.stringify({ ...cache, layers: Object.fromEntries(Object.keys(cache.layers).map((k) => [k, entry])) });
    // A whole-tree record that is not one, or that names layers the cache does not know, is passed over too.
    const bogusTree = (entry: unknown) => JSON.stringify({ ...cache, layers: {}, trees: Object.fromEntries(Object.keys(cache.trees).map((k) => [k, entry])) });
    expect(Object.keys(cache.trees)).toHaveLength(1);
    const trees = [bogusTree("x"), bogusTree([0, "x"]), bogusTree([0, [1]]), bogusTree(Object.values(cache.trees)[0])];
    for (const bad of ["{not json", bogus(["sha256:../../../etc/passwd", 0, [0, 0, 0, 0]]), bogus({ id: 1 }), bogus(null), ...trees]) {
      await writeFile(path, bad);
      expect(await buildSnapshot({ dir: src, store })).toMatchObject({ id: first.id, layersWritten: first.layers });
    }
    expect(await buildSnapshot({ dir: src, store })).toMatchObject({ id: first.id, cached: true, layersWritten: 0 });
  });

  test("contents over 1 MB are streamed into the layer and still stored once; what follows them is intact", async () => {
    const dir = await tmp("snap-big-");
    const big = new Uint8Array(2 << 20).map((_, i) => (i * 7919) % 251);
    await writeFile(join(dir, "big1.bin"), big);
    await writeFile(join(dir, "big2.bin"), big);
    await writeFile(join(dir, "c.txt"), "after the big ones\n");
    const store = new SnapshotStore(await tmp("snap-store-"));
    await buildSnapshot({ dir, name: "big", store });
    const { ov, readers } = overlayOf(store, "big");
    const holder = readers.find((r) => r.header.entries.some((e) => e.p === "big1.bin"))!;
    const [b1, b2, c] = ["big1.bin", "big2.bin", "c.txt"].map((p) => holder.header.entries.find((e) => e.p === p));
    expect(b2!.o).toBe(b1!.o);
    expect(holder.header.data).toBe(big.length + c!.s!);
    expect(await ov.readFile("/big1.bin")).toEqual(big);
    expect(await ov.readFile("/big2.bin")).toEqual(big);
    expect(text(await ov.readFile("/c.txt"))).toBe("after the big ones\n");
  });

  test("gc keeps a layer a running build wrote before its record exists", async () => {
    const store = new SnapshotStore(await tmp("snap-store-"));
    const lease = await store.acquireLease("build");
    const tmpPath = store.tmpPath("layer");
    const layer = await writeLayer(tmpPath, [{ p: "", t: "d", m: 0o755, mt: 0 }, { p: "f", t: "f", m: 0o644, mt: 0, data: new Uint8Array([1]) }]);
    store.commitLayer(tmpPath, layer.id);
    expect(gcSnapshots({ store })).toMatchObject({ removedLayers: [], keptInUse: 1 });
    lease.release();
    expect(gcSnapshots({ store }).removedLayers).toEqual([layer.id]);
  });

  test("gc removes temp files a crashed build left (older than an hour), not a running build's", async () => {
    const store = new SnapshotStore(await tmp("snap-store-"));
    const [stale, fresh] = [store.tmpPath("layer"), store.tmpPath("layer")];
    await writeFile(stale, "half a layer");
    await writeFile(fresh, "a layer being written");
    await utimes(stale, OLD, OLD);
    expect(gcSnapshots({ store }).freedBytes).toBe("half a layer".length);
    expect(await readdir(store.dir("tmp"))).toEqual([fresh.split("/").at(-1)!]);
  });

  test("a source file swapped for a symlink after the walk is refused, never read through", async () => {
    const dir = await tmp("snap-swap-");
    await writeFile(join(dir, "target.txt"), "not yours");
    await symlink(join(dir, "target.txt"), join(dir, "was-a-file"));
    const store = new SnapshotStore(await tmp("snap-store-"));
    await expect(writeLayer(store.tmpPath("layer"), [{ p: "was-a-file", t: "f", m: 0o644, mt: 0, hostPath: join(dir, "was-a-file") }])).rejects.toMatchObject({
      code: "snapshot_source_changed",
      exitCode: 1,
      message: `${join(dir, "was-a-file")} is no longer a regular file`,
    });
  });

  test("a bad name or an unknown ref is a usage error with a hint", async () => {
    const store = new SnapshotStore(await tmp("snap-store-"));
    const src = await sourceTree();
    await expect(buildSnapshot({ dir: src, name: "../x", store })).rejects.toMatchObject({ exitCode: 2, code: "snapshot_bad_name" });
    expect(() => store.resolve("nope")).toThrow(/no snapshot named or with id 'nope'/);
    await expect(buildSnapshot({ dir: join(src, "missing"), store })).rejects.toMatchObject({ exitCode: 2 });
  });
});

describe("overlay: a disposable upper over the layers", () => {
  test("a symlink resolves only inside the snapshot: an absolute target or one past the root is ENOENT", async () => {
    const src = await sourceTree();
    const store = new SnapshotStore(await tmp("snap-store-"));
    await buildSnapshot({ dir: src, name: "app", store });
    const { ov } = overlayOf(store, "app");
    await ov.mkdir("/etc");
    await ov.writeFile("/etc/passwd", "inside");
    await ov.symlink("../etc/passwd", "/src/in");
    await ov.symlink("/etc/passwd", "/abs");
    await ov.symlink("../../etc/passwd", "/src/up");
    expect(text(await ov.readFile("/src/in"))).toBe("inside");
    await expect(ov.readFile("/abs")).rejects.toThrow(/ENOENT/);
    await expect(ov.readFile("/src/up")).rejects.toThrow(/ENOENT/);
  });

  test("a damaged layer found while exporting a run's changes is reported as the integrity error", async () => {
    const src = await sourceTree();
    const store = new SnapshotStore(await tmp("snap-store-"));
    await buildSnapshot({ dir: src, name: "app", store });
    const root = await openSnapshotRoot("app", { store, keepChanges: join(await tmp("snap-keep-"), "kept") });
    try {
      // What agentOS does with the mount: a writable layer and an overlay over the lowers.
      const { store: layers, lowers } = (root.mounts[0] as { filesystem: { store: LayerStore; lowers: SnapshotLayerHandle[] } }).filesystem;
      const ov = layers.createOverlayFilesystem({ upper: await layers.createWritableLayer(), lowers });
      await ov.chmod("/README.md", 0o600); // modified, so the export reads its bytes from the layer
      const reader = overlayOf(store, "app").readers.find((r) => r.header.entries.some((e) => e.p === "README.md"))!;
      const entry = reader.header.entries.find((e) => e.p === "README.md")!;
      const fh = await open(store.layerPath(reader.id), "r+");
      await fh.write(new Uint8Array([0x58]), 0, 1, entry.o!);
      await fh.close();
      await expect(root.finish()).rejects.toMatchObject({ code: "snapshot_corrupted" });
    } finally {
      root.close();
    }
  });

  test("writes, deletes and renames stay in the view; the diff is exact; export and commit keep it", async () => {
    const src = await sourceTree();
    const store = new SnapshotStore(await tmp("snap-store-"));
    await buildSnapshot({ dir: src, name: "app", store });
    const { ov, rec } = overlayOf(store, "app");
    await ov.writeFile("/src/lib/a.ts", "export const a = 42;\n");
    await ov.writeFile("/NEW.md", "new");
    await ov.mkdir("/out/deep", { recursive: true });
    await ov.writeFile("/out/deep/x.bin", new Uint8Array([0, 1, 2]));
    await ov.removeFile("/src/m7.txt");
    await ov.rename("/src/lib", "/src/lib2");
    await ov.chmod("/README.md", 0o600);
    await ov.utimes("/src/m8.txt", 1, 1); // times alone are not a change
    await ov.pwrite("/src/m9.txt", 5, new TextEncoder().encode("NINE"));
    await expect(ov.readFile("/src/lib/a.ts")).rejects.toThrow(/ENOENT/);
    await expect(ov.removeDir("/out")).rejects.toThrow(/ENOTEMPTY/);
    await expect(ov.readFile("/../../etc/passwd")).rejects.toThrow(/ENOENT/);

    const c = computeChanges(ov);
    expect(c.added.map((x) => x.path)).toEqual(["NEW.md", "out", "out/deep", "out/deep/x.bin", "src/lib2", "src/lib2/a.ts", "src/lib2/b.ts"]);
    expect(c.modified.map((x) => x.path)).toEqual(["README.md", "src/m9.txt"]);
    expect(c.deleted.map((x) => x.path)).toEqual(["src/lib", "src/lib/a.ts", "src/lib/b.ts", "src/m7.txt"]);

    // A second view of the same snapshot sees none of it.
    const other = overlayOf(store, "app").ov;
    expect(text(await other.readFile("/src/lib/a.ts"))).toBe("export const a = 1;\n");
    expect(await other.exists("/NEW.md")).toBe(false);

    const out = join(await tmp("snap-keep-"), "kept");
    exportChanges(ov, c, out, { snapshot: rec.id });
    expect(await readFile(join(out, "src/lib2/a.ts"), "utf8")).toBe("export const a = 42;\n");
    expect(await readFile(join(out, "src/m9.txt"), "utf8")).toBe("file NINE");
    expect([...(await readFile(join(out, "out/deep/x.bin")))]).toEqual([0, 1, 2]);
    expect(JSON.parse(await readFile(join(out, CHANGES_MANIFEST), "utf8")).deleted).toHaveLength(4);
    expect(() => exportChanges(ov, c, out, {})).toThrow(/not empty/);

    const { record: committed } = await commitChanges(ov, c, store, rec, "app-2");
    expect(committed.layers).toEqual([...rec.layers, committed.layers.at(-1)!]);
    const next = overlayOf(store, "app-2").ov;
    expect(text(await next.readFile("/src/lib2/a.ts"))).toBe("export const a = 42;\n");
    expect(await next.exists("/src/lib")).toBe(false);
    expect(await next.exists("/src/m7.txt")).toBe(false);
    expect((await next.stat("/README.md")).mode & 0o777).toBe(0o600);
    expect(computeChanges(next)).toEqual({ added: [], modified: [], deleted: [] });
  });
});

describe("layers written by workers (layer-pool.ts)", () => {
  test("one thread, one worker or three: the same layers, the same snapshot id, every layer whole", async () => {
    const dir = await sourceTree();
    await mkdir(join(dir, "big"));
    for (let i = 0; i < 6; i++) await writeFile(join(dir, "big", `b${i}.bin`), new Uint8Array(300_000).fill(i + 1));
    await writeFile(join(dir, "big", "b-copy.bin"), new Uint8Array(300_000).fill(1));
    // Big files (a layer each) past the first 8 MB: with workers, a cold build hands them to a worker mid-walk.
    await mkdir(join(dir, "huge"));
    for (let i = 0; i < 4; i++) await writeFile(join(dir, "huge", `h${i}.bin`), new Uint8Array(4_500_000).fill(i + 7));
    await writeFile(join(dir, "huge", "h-copy.bin"), new Uint8Array(4_500_000).fill(7));
    await age(dir);
    const built = [];
    for (const workers of [0, 1, 3]) {
      const store = new SnapshotStore(join(await tmp("snap-pool-"), "snapshots"));
      const r = await buildSnapshot({ dir, store, workers });
      built.push({ id: r.id, layers: store.readRecord(r.id)!.layers });
      for (const l of store.readRecord(r.id)!.layers) {
        const reader = new LayerReader(l, store.layerPath(l));
        for (const e of reader.header.entries) reader.verify(e);
        reader.close();
      }
    }
    expect(built[0]!.layers.length).toBeGreaterThan(3);
    expect(built[1]).toEqual(built[0]!);
    expect(built[2]).toEqual(built[0]!);
  });

  test("a file swapped for a link while a worker build runs fails it as in one thread, and leaves no temp file or record", async () => {
    const dir = await sourceTree();
    await mkdir(join(dir, "zz"));
    await writeFile(join(dir, "zz", "victim.txt"), "read me\n");
    await age(dir);
    for (const workers of [0, 1]) {
      const store = new SnapshotStore(join(await tmp("snap-pool-fail-"), "snapshots"));
      let swapped = false;
      const err = await buildSnapshot({
        dir,
        store,
        workers,
        // After the first layer: the victim's layer (the last: paths are sorted) has not started yet.
        onProgress: () => {
          if (swapped) return;
          swapped = true;
          rmSync(join(dir, "zz", "victim.txt"));
          symlinkSync("/etc/hostname", join(dir, "zz", "victim.txt"));
        },
      }).catch((e) => e);
      expect({ workers, failed: err instanceof Error, message: String(err?.message) }).toMatchObject({ workers, failed: true });
      expect(String(err.message)).toMatch(/ELOOP|symbolic link|no longer a regular file/i);
      expect(readdirSync(store.dir("tmp"))).toEqual([]);
      expect(readdirSync(store.dir("records"))).toEqual([]);
      rmSync(join(dir, "zz", "victim.txt"));
      await writeFile(join(dir, "zz", "victim.txt"), "read me\n");
    }
  });
});
