import { describe, expect, test } from "bun:test";
import { readdir } from "node:fs/promises";
import { basename, dirname } from "node:path";
import { binPath } from "./helpers.ts";

/**
 * dist/ holds what the last build wrote and nothing else (scripts/build.ts prunes it): the binary and the source maps
 * of the modules it embeds. A chunk's name changes with its content, so without the pruning each earlier build's
 * maps stayed beside the binary.
 */
describe("build output", () => {
  test("every file beside the binary is the source map of a module the binary embeds", async () => {
    const bin = binPath();
    // (Read as latin1: the binary is not UTF-8, and decoding it as such takes seconds.)
    const embedded = new Set(Buffer.from(await Bun.file(bin).arrayBuffer()).toString("latin1").match(/(?:chunk-[a-z0-9]+|layer-worker)\.js/g) ?? []);
    const others = (await readdir(dirname(bin))).filter((n) => n !== basename(bin));
    expect(others.length).toBeGreaterThan(0);
    const stale = others.filter((n) => !(n.endsWith(".map") && (embedded.has(n.slice(0, -4)) || n === `${basename(bin)}.map`)));
    expect(stale).toEqual([]);
  });
});
