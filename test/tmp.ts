import { rmSync } from "node:fs";
import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";

/**
 * Every temp dir a test makes comes from here and is removed: by the file's afterAll (`afterAll(removeTempDirs)`),
 * and whatever is left when the test process exits. Nothing a test made stays in /tmp.
 */
const made = new Set<string>();
let hooked = false;

export async function tempDir(prefix = "aos-test-"): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  made.add(dir);
  if (!hooked) {
    hooked = true;
    process.on("exit", removeTempDirsSync);
  }
  return dir;
}

export function removeTempDirsSync(): void {
  for (const d of made) {
    try {
      rmSync(d, { recursive: true, force: true });
    } catch {
      // a dir a test made unreadable: try the rest
    }
    made.delete(d);
  }
}

export async function removeTempDirs(): Promise<void> {
  removeTempDirsSync();
}
