import { join } from "node:path";
import { tempDir } from "./tmp.ts";

/**
 * What an entry loads before it runs, as the compiled binary bundles it (code splitting): the entry chunk and the
 * chunks it imports statically (`from "./chunk-…"`; a dynamic import() loads later). `modules` are the source paths
 * heading each module's part of a chunk (`// src/x.ts`), `packages` the external @rivet-dev and rivetkit imports,
 * `builtins` the runtime's own modules imported statically (`fs`, `os`: the bundle drops the `node:` prefix).
 * The caller's file removes the temp dir (afterAll(removeTempDirs)).
 */
export async function startupGraph(entry: string): Promise<{ modules: Set<string>; packages: Set<string>; builtins: Set<string> }> {
  const outdir = await tempDir("aos-startup-graph-");
  const built = await Bun.build({ entrypoints: [entry], target: "bun", splitting: true, outdir, external: ["@rivet-dev/*", "rivetkit", "*.zst"] });
  if (!built.success) throw new Error(`bundling ${entry} failed: ${built.logs.join("\n")}`);
  const outputs = new Map(built.outputs.map((o) => [o.path, o]));
  const modules = new Set<string>();
  const packages = new Set<string>();
  const builtins = new Set<string>();
  const seen = new Set<string>();
  const walk = async (path: string): Promise<void> => {
    if (seen.has(path)) return;
    seen.add(path);
    const text = await outputs.get(path)!.text();
    // `// @bun` is the file's pragma, not a module.
    for (const m of text.matchAll(/^\/\/ (\S+\/\S+)$/gm)) modules.add(m[1]!);
    for (const m of text.matchAll(/ from "(@rivet-dev\/[^"]+|rivetkit[^"]*)"/g)) packages.add(m[1]!);
    for (const m of text.matchAll(/ from "(?:node:)?([a-z_]+(?:\/[a-z_]+)?)"/g)) builtins.add(m[1]!);
    for (const m of text.matchAll(/ from "\.\/(chunk-[a-z0-9]+\.js)"/g)) await walk(join(outdir, m[1]!));
  };
  await walk(built.outputs.find((o) => o.kind === "entry-point")!.path);
  return { modules, packages, builtins };
}
