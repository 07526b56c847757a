/**
 * `bun run build`: compile dist/paperclip-aos, one file holding the app, the agentOS sidecar and the software
 * packages (zstd-compressed, extracted once into the cache dir at run time). Compressed assets are cached in
 * build/assets and only recompressed when their source changes.
 */
import { mkdir, readdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import { basename, dirname, join, resolve } from "node:path";
import { PI_BUNDLE_PATCH_ID, SIDECAR_PATCH_ID, SOFTWARE_PACKAGES, patchPiPackage, patchSidecar, resolveAssets, type SoftwareName } from "../src/runtime/index.ts";
import { buildAdapterBundle } from "../src/paperclip/index.ts";
import pkg from "../package.json" with { type: "json" };

const root = join(import.meta.dir, "..");
const buildDir = join(root, "build");
const assetDir = join(buildDir, "assets");
const outfile = join(root, "dist", "paperclip-aos");
const quiet = process.argv.includes("--quiet");
const log = (m: string) => quiet || process.stderr.write(`${m}\n`);

/**
 * What is embedded changed from agentOS's files, by asset: the sidecar with its WASM runner fixed
 * (src/runtime/sidecar-patch.ts), Pi's package with its SDK bundle one-byte (src/runtime/pi-bundle-patch.ts). The id
 * is kept in the asset's manifest: a new fix re-makes it.
 */
function assetPatch(name: string, kind: Entry["kind"]): { id: string; apply: (b: Uint8Array) => Uint8Array } | undefined {
  if (kind === "sidecar") return { id: SIDECAR_PATCH_ID, apply: patchSidecar };
  if (name === "pi.aospkg") return { id: PI_BUNDLE_PATCH_ID, apply: patchPiPackage };
  return undefined;
}

/**
 * The compiled binary's start-up JIT policy (Bun's compile.jitPolicy, a multiplier of JavaScriptCore's tier-up
 * thresholds). Measured on `tool invoke git.status`, 100 runs alternating at load 8-10: 3, 8, 32 and 1000 all take
 * ~1.3 ms off its start-up (module loading 2.2 -> 1.5 ms, the tool's module 1.5 -> 0.8 ms); 8 keeps a long loop on
 * the fast path (a large git log) from staying in the interpreter for long.
 */
const START_JIT_POLICY = 8;

interface Entry { name: string; zst: string; sha256: string; size: number; kind: "sidecar" | "package"; bundle?: SoftwareName; srcMtime: number; patch?: string }

async function compress(src: string, name: string, kind: Entry["kind"], bundle?: SoftwareName): Promise<Entry> {
  const st = await stat(src);
  const manifestFile = join(assetDir, `${name}.json`);
  const cached = await readFile(manifestFile, "utf8").then((t) => JSON.parse(t) as Entry).catch(() => null);
  const fix = assetPatch(name, kind);
  const patch = fix?.id;
  if (cached && cached.size === st.size && cached.srcMtime === st.mtimeMs && cached.patch === patch && (await Bun.file(cached.zst).exists())) return cached;
  const t = performance.now();
  const original = new Uint8Array(await Bun.file(src).arrayBuffer());
  const raw = fix ? fix.apply(original) : original;
  const sha256 = new Bun.CryptoHasher("sha256").update(raw).digest("hex");
  const zst = join(assetDir, `${name}.zst`);
  await Bun.write(zst, Bun.zstdCompressSync(raw, { level: 9 }));
  const entry: Entry = { name, zst, sha256, size: st.size, kind, bundle, srcMtime: st.mtimeMs, patch };
  await writeFile(manifestFile, JSON.stringify(entry));
  log(`  compressed ${name} (${(st.size / 2 ** 20).toFixed(1)} MB) in ${Math.round(performance.now() - t)} ms`);
  return entry;
}

/**
 * dist/ holds only what this build wrote: the chunks' names change with their content, so each earlier build's .map
 * files (and anything else left there) would pile up beside the binary.
 */
async function pruneDist(produced: string[]): Promise<void> {
  const dist = dirname(outfile);
  const keep = new Set(produced);
  // (Bun names its outputs; were the binary itself not among them, what to keep would be unknown: keep everything.)
  if (!keep.has(outfile)) {
    log(`  dist/ not pruned: the build's outputs do not name ${basename(outfile)}`);
    return;
  }
  for (const name of await readdir(dist)) if (!keep.has(join(dist, name))) await rm(join(dist, name), { recursive: true, force: true });
}

async function main() {
  const started = performance.now();
  await mkdir(assetDir, { recursive: true });
  const assets = await resolveAssets();
  const entries: Entry[] = [await compress(assets.sidecarBin, "agentos-sidecar", "sidecar")];
  for (const [bundle, names] of Object.entries(SOFTWARE_PACKAGES) as [SoftwareName, readonly string[]][]) {
    const paths = assets.software[bundle];
    for (let i = 0; i < names.length; i++) entries.push(await compress(paths[i]!, `${names[i]}.aospkg`, "package", bundle));
  }

  // The compiled entry imports this generated module; each asset becomes a file embedded in the binary.
  const lines = entries.map((e, i) => `import a${i} from ${JSON.stringify(e.zst)} with { type: "file" };`);
  const list = entries.map((e, i) => {
    const ext = e.kind === "package" ? ".aospkg" : "";
    const stem = e.kind === "package" ? e.name.replace(/\.aospkg$/, "") : e.name;
    return `  { file: a${i}, name: ${JSON.stringify(`${stem}-${e.sha256.slice(0, 16)}${ext}`)}, sha256: ${JSON.stringify(e.sha256)}, size: ${e.size}, kind: ${JSON.stringify(e.kind)}${e.bundle ? `, bundle: ${JSON.stringify(e.bundle)}` : ""} },`;
  });
  await writeFile(
    join(buildDir, "embedded-assets.ts"),
    `// Generated by scripts/build.ts. Do not edit.\nimport type { EmbeddedAsset } from "../src/runtime/embedded.ts";\n${lines.join("\n")}\nexport const EMBEDDED_ASSETS: EmbeddedAsset[] = [\n${list.join("\n")}\n];\n`,
  );

  const commit = Bun.spawnSync(["git", "rev-parse", "--short", "HEAD"], { cwd: root, stderr: "ignore" });
  const dirty = Bun.spawnSync(["git", "status", "--porcelain", "--untracked-files=no"], { cwd: root, stderr: "ignore" });
  const coreVersion = JSON.parse(await readFile(join(dirname(Bun.resolveSync("@rivet-dev/agentos-core", root)), "..", "package.json"), "utf8")).version;
  const info = {
    version: pkg.version,
    agentosCore: coreVersion,
    commit: commit.success ? `${commit.stdout.toString().trim()}${dirty.stdout.toString().trim() ? "-dirty" : ""}` : "unknown",
    builtAt: new Date().toISOString(),
    compiled: true,
  };
  // The Paperclip adapter package (`paperclip install` writes it out): bundled for Node, embedded as two strings.
  const adapter = await buildAdapterBundle();
  log(`  paperclip adapter: index.js ${(adapter.index.length / 1024).toFixed(1)} KB, ui-parser.cjs ${(adapter.uiParser.length / 1024).toFixed(1)} KB`);
  const result = await Bun.build({
    // The snapshot build's layer workers (src/snapshot/layer-pool.ts) start from their own entry in the binary.
    entrypoints: [join(root, "commands", "cli.compiled.ts"), join(root, "src", "snapshot", "layer-worker.ts")],
    // autoloadPackageJson: the engine parts are imported from disk at run time (src/rivet/modules.ts); without it the
    // compiled binary resolves no bare import inside them (docs/rivet.md, "Packaging").
    // jitPolicy: the binary starts with a JIT that is slower to compile, so the run-once start-up code (the module
    // loader's own functions, the tool's schemas) stays in the interpreter instead of being compiled on one of two
    // cores; every command but the `tool invoke` fast path sets it back to 1 first (commands/_entry.ts). Workers start
    // with the normal policy.
    compile: { target: "bun-linux-x64", outfile, autoloadDotenv: false, autoloadBunfig: false, autoloadPackageJson: true, jitPolicy: START_JIT_POLICY },
    bytecode: true,
    minify: true,
    splitting: true,
    format: "esm",
    sourcemap: "external",
    define: { PAPERCLIP_AOS_BUILD: JSON.stringify(info), PAPERCLIP_AOS_ADAPTER_BUNDLE: JSON.stringify(adapter) },
  });
  if (!result.success) {
    for (const m of result.logs) console.error(m);
    process.exit(1);
  }
  await pruneDist(result.outputs.map((o) => resolve(dirname(outfile), o.path)));
  const size = (await stat(outfile)).size;
  log(`built ${basename(outfile)} ${info.version} (${info.commit}): ${(size / 2 ** 20).toFixed(1)} MB in ${((performance.now() - started) / 1000).toFixed(1)} s`);
}

await main();
