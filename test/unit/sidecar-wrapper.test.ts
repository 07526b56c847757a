/**
 * The sidecar wrapper files in <cache>/bin (src/runtime/sidecar-wrapper.ts): each binary version writes its own, named
 * by its hash; another version's is removed once no sidecar was booted through it for a day, ours never.
 */
import { afterAll, afterEach, expect, test } from "bun:test";
import { readdirSync, statSync, utimesSync, writeFileSync, mkdirSync } from "node:fs";
import { basename, join } from "node:path";
import { removeUnusedWrappers, sidecarWrapperPath, WRAPPER_MARK, WRAPPER_UNUSED_MS } from "../../src/runtime/sidecar-wrapper.ts";
import { removeTempDirs, tempDir } from "../tmp.ts";

afterAll(removeTempDirs);
const savedCache = process.env.PAPERCLIP_AOS_CACHE;
afterEach(() => {
  if (savedCache === undefined) delete process.env.PAPERCLIP_AOS_CACHE;
  else process.env.PAPERCLIP_AOS_CACHE = savedCache;
});

const age = (file: string, ms: number) => {
  const t = new Date(Date.now() - ms);
  utimesSync(file, t, t);
};

test("another version's wrapper unused for a day is removed; a recent one, ours, and files that are not wrappers stay", async () => {
  const cache = await tempDir("aos-wrappers-");
  const bin = join(cache, "bin");
  mkdirSync(bin);
  const file = (name: string, text: string, ageMs: number) => {
    writeFileSync(join(bin, name), text);
    age(join(bin, name), ageMs);
  };
  const wrapperText = `#!/bin/sh\n${WRAPPER_MARK} with its stderr sent to a log\nexec env "$@"\n`;
  file("quiet-sidecar-111111111111.sh", wrapperText, WRAPPER_UNUSED_MS + 60_000); // another version's, unused for a day
  file("quiet-sidecar-222222222222.sh", wrapperText, WRAPPER_UNUSED_MS - 3600_000); // another version's, used an hour ago
  file("quiet-sidecar-333333333333.sh", "#!/bin/sh\necho not ours\n", 2 * WRAPPER_UNUSED_MS); // the name, not our mark
  file("notes.txt", "x", 2 * WRAPPER_UNUSED_MS);
  process.env.PAPERCLIP_AOS_CACHE = cache;
  const ours = await sidecarWrapperPath();
  expect(readdirSync(bin).sort()).toEqual(["notes.txt", basename(ours), "quiet-sidecar-222222222222.sh", "quiet-sidecar-333333333333.sh"].sort());

  // Ours is kept whatever its age, and each use marks it used.
  age(ours, 2 * WRAPPER_UNUSED_MS);
  expect(removeUnusedWrappers(bin)).toEqual([]);
  expect(await sidecarWrapperPath()).toBe(ours);
  expect(Date.now() - statSync(ours).mtimeMs).toBeLessThan(WRAPPER_UNUSED_MS);
  // A day later the other version's wrapper goes too.
  expect(removeUnusedWrappers(bin, Date.now() + WRAPPER_UNUSED_MS)).toEqual(["quiet-sidecar-222222222222.sh"]);
});
