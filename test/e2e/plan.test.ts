import { afterAll, describe, expect, test } from "bun:test";
import { readdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { parseJson, removeTempDirs, runBin, tempDir } from "./helpers.ts";

/** `exec` and `caps explain` through the one VM plan (src/plan), from the compiled binary and a real VM. */
// Every temp dir comes from helpers.tempDir, which tracks it; this file removes them when it is done.
afterAll(removeTempDirs);

describe("the VM plan through the binary", () => {
  test("exec --preset read-only: writes in the workspace fail and nothing lands", async () => {
    const dir = await tempDir();
    await writeFile(join(dir, "a.txt"), "a\n");
    const r = await runBin(["exec", "--preset", "read-only", "--json", "--", "echo x > /workspace/f; mkdir /workspace/d; cat /workspace/a.txt"], { cwd: dir });
    const j = parseJson(r.stdout);
    expect(j.stdout).toBe("a\n");
    // The kernel's fs rules answer first ("Permission denied"); the workspace filesystem's own read-only layer behind
    // them is proved in test/unit/host-dir-vfs.test.ts.
    expect(j.stderr).toContain("Permission denied");
    expect((await readdir(dir)).filter((f) => f !== ".aos-state")).toEqual(["a.txt"]);
  });

  test("caps explain shows the permissions the VM boots with, the host tools' included", async () => {
    const dir = await tempDir();
    const j = parseJson((await runBin(["caps", "explain", "--json"], { cwd: dir })).stdout);
    expect(JSON.stringify(j.compiled.permissions.childProcess)).toContain("agentos-paperclip");
    expect(JSON.stringify(j.compiled.permissions.network)).toContain("inspect");
  });
});
