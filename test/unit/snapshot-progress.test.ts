import { describe, expect, test } from "bun:test";
import { progressReporter } from "../../src/snapshot/progress.ts";

describe("build progress on stderr", () => {
  test("silent for the first second, then a plain line for logs or a redrawn bar for a person", async () => {
    const lines: string[] = [];
    const bars: string[] = [];
    const plain = progressReporter({ label: "building snapshot", enabled: true, write: (s) => lines.push(s), interactive: false });
    const tty = progressReporter({ label: "building snapshot", enabled: true, write: (s) => bars.push(s), interactive: true });
    const p = { files: 10, bytes: 50 << 20, totalFiles: 100, totalBytes: 100 << 20 };
    plain.update(p);
    tty.update(p);
    expect(lines).toEqual([]);
    await Bun.sleep(1050);
    plain.update(p);
    tty.update(p);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^building snapshot: 50% 10\/100 files, 50\.0 MB\/100 MB, 1\.\ds\n$/);
    expect(bars[0]).toMatch(/^\rbuilding snapshot \[#{12} {12}\]  50% /);
    tty.done();
    expect(bars.at(-1)).toBe("\r\x1b[K");
  });
});
