import { chmod, mkdir, rename, rm, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { SOFTWARE_PACKAGES, type AssetProvider, type RuntimeAssets, type SoftwareName } from "./assets.ts";
import { cacheDir } from "../paths.ts";
import { isAosError, runtimeError } from "../errors.ts";
import { recordVersion } from "./cache.ts";

/** One zstd-compressed file embedded in the compiled binary (written by scripts/build.ts). */
export interface EmbeddedAsset {
  /** Path inside the binary (`/$bunfs/root/...`), from `import … with { type: "file" }`. */
  file: string;
  /** File name in the cache: `<name>-<sha256 prefix><ext>`. */
  name: string;
  sha256: string;
  size: number;
  kind: "sidecar" | "package";
  bundle?: SoftwareName;
}

/**
 * The compiled binary carries the sidecar and the software packages compressed; the sidecar is another process and
 * cannot read `/$bunfs`, so they are extracted once into the cache dir under content-hashed names. A stamp records
 * the size, mtime and inode seen right after a verified extraction; a file whose stat no longer matches is hashed
 * again and re-extracted on mismatch, so a corrupted cache heals itself without hashing 350 MB on every start.
 */
export function embeddedProvider(assets: EmbeddedAsset[]): AssetProvider {
  const dir = () => join(cacheDir(), "rt");
  return {
    origin: "embedded",
    cacheFiles: assets.map((a) => a.name),
    async resolve({ onProgress }) {
      const started = performance.now();
      await mkdir(dir(), { recursive: true }).catch((e) => {
        throw runtimeError(`cannot create the cache dir ${dir()}: ${(e as Error).message}`, "set PAPERCLIP_AOS_CACHE to a writable directory", "cache_unwritable", e);
      });
      let announced = false;
      const software = Object.fromEntries(Object.keys(SOFTWARE_PACKAGES).map((k) => [k, [] as string[]])) as Record<SoftwareName, string[]>;
      let sidecarBin = "";
      for (const a of assets) {
        const dest = join(dir(), a.name);
        if (!(await isIntact(dest, a))) {
          if (!announced) onProgress?.(`extracting the agentOS runtime into ${dir()} (first run only)`);
          announced = true;
          await extract(a, dest);
        }
        if (a.kind === "sidecar") sidecarBin = dest;
        else software[a.bundle!].push(dest);
      }
      // Which files are this binary's, and that it ran now: `cache ls` and `cache clean` read it (cache.ts).
      await recordVersion(assets.map((a) => a.name), dir()).catch(() => {});
      return { sidecarBin, software, origin: "embedded", prepareMs: performance.now() - started } satisfies RuntimeAssets;
    },
    async verify() {
      const problems: string[] = [];
      for (const a of assets) {
        const dest = join(dir(), a.name);
        const st = await stat(dest).catch(() => null);
        if (!st) problems.push(`${a.name} is not extracted yet`);
        else if ((await sha256File(dest)) !== a.sha256) problems.push(`${a.name} does not match its hash`);
      }
      return { ok: problems.length === 0, problems };
    },
  };
}

async function isIntact(dest: string, a: EmbeddedAsset): Promise<boolean> {
  const st = await stat(dest).catch(() => null);
  if (!st || st.size !== a.size) return false;
  const stampFile = Bun.file(`${dest}.ok`);
  const stamp = (await stampFile.exists()) ? await stampFile.text() : "";
  if (stamp === stampOf(st)) return true;
  // Changed since we verified it (or never verified): hash it once more.
  if ((await sha256File(dest)) !== a.sha256) return false;
  await writeFile(`${dest}.ok`, stampOf(st));
  return true;
}

function stampOf(st: { size: number; mtimeMs: number; ino: number }): string {
  return `${st.size}:${st.mtimeMs}:${st.ino}`;
}

async function sha256File(path: string): Promise<string> {
  const hasher = new Bun.CryptoHasher("sha256");
  for await (const chunk of Bun.file(path).stream()) hasher.update(chunk);
  return hasher.digest("hex");
}

async function extract(a: EmbeddedAsset, dest: string): Promise<void> {
  const tmp = `${dest}.${process.pid}.${Date.now()}.tmp`;
  try {
    const raw = Bun.zstdDecompressSync(new Uint8Array(await Bun.file(a.file).arrayBuffer()));
    const digest = new Bun.CryptoHasher("sha256").update(raw).digest("hex");
    if (digest !== a.sha256) throw runtimeError(`the embedded ${a.name} is corrupt (hash mismatch)`, "the binary itself is damaged: download or build it again", "binary_corrupt");
    await writeFile(tmp, raw, { mode: a.kind === "sidecar" ? 0o755 : 0o644 });
    await chmod(tmp, a.kind === "sidecar" ? 0o755 : 0o644);
    // rename is atomic: two first runs racing each write their own temp file and the last rename wins, same bytes.
    await rename(tmp, dest);
    const st = await stat(dest);
    await writeFile(`${dest}.ok`, stampOf(st));
  } catch (e) {
    await rm(tmp, { force: true });
    if (isAosError(e)) throw e;
    const code = (e as NodeJS.ErrnoException).code;
    if (code === "ENOSPC" || code === "EDQUOT") {
      throw runtimeError(`not enough disk space in ${dest.slice(0, dest.lastIndexOf("/"))} to extract the runtime (${Math.ceil(a.size / 2 ** 20)} MB for ${a.name})`, "free some space or set PAPERCLIP_AOS_CACHE to a larger disk", "cache_disk_full", e);
    }
    throw runtimeError(`cannot extract ${a.name} into the cache: ${(e as Error).message}`, "set PAPERCLIP_AOS_CACHE to a writable directory", "cache_unwritable", e);
  }
}
