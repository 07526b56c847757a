/**
 * The compiled binary's snapshot build writes a big tree's layers through its embedded worker entry
 * (src/snapshot/layer-pool.ts): the snapshot must be the very one a one-thread build of the library makes, and whole.
 */
import { afterAll, expect, test } from "bun:test";
import { randomBytes } from "node:crypto";
import { mkdir, symlink, utimes, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { buildSnapshot } from "../../src/snapshot/build.ts";
import { PARALLEL_MIN_BYTES } from "../../src/snapshot/layer-pool.ts";
import { SnapshotStore } from "../../src/snapshot/store.ts";
import { parseJson, runBin, removeTempDirs, tempDir } from "./helpers.ts";

afterAll(removeTempDirs);

test("a build big enough for workers gives the same snapshot as one thread, and every layer verifies", async () => {
  const dir = await tempDir("aos-snap-par-src-");
  let bytes = 0;
  for (let i = 0; i < 300; i++) {
    const sub = join(dir, `d${i % 7}`);
    await mkdir(sub, { recursive: true });
    const data = randomBytes(i < 12 ? 1 << 20 : 4096);
    bytes += data.length;
    await writeFile(join(sub, `f${i}.bin`), data);
  }
  await writeFile(join(dir, "d0", "copy.bin"), "same");
  await writeFile(join(dir, "d1", "copy.bin"), "same");
  await symlink("d0/f0.bin", join(dir, "link"));
  const old = new Date("2024-01-02T03:04:05Z");
  for (let i = 0; i < 300; i++) await utimes(join(dir, `d${i % 7}`, `f${i}.bin`), old, old);
  expect(bytes).toBeGreaterThan(PARALLEL_MIN_BYTES);

  const home = await tempDir("aos-snap-par-home-");
  const built = await runBin(["snapshot", "build", dir, "--name", "par", "--json"], { env: { PAPERCLIP_AOS_HOME: home } });
  expect(built.code).toBe(0);
  const fromBinary = parseJson(built.stdout);
  expect(fromBinary).toMatchObject({ files: 302, cached: false });

  const oneThread = await buildSnapshot({ dir, workers: 0, store: new SnapshotStore(join(await tempDir("aos-snap-par-lib-"), "snapshots")) });
  expect(fromBinary.id).toBe(oneThread.id);

  const v = await runBin(["snapshot", "inspect", "par", "--verify", "--json"], { env: { PAPERCLIP_AOS_HOME: home } });
  expect(parseJson(v.stdout)).toMatchObject({ id: oneThread.id, verified: true });
});
