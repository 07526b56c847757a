/**
 * Run by `bun install` (package.json "postinstall"). Bun runs no dependency's install script here (package.json
 * trustedDependencies is empty), so opencode-ai's bin/opencode.exe stays the stub that says its postinstall did not
 * run, and node_modules/.bin/opencode fails. That postinstall links the binary of the platform package npm installed
 * beside it; when it finds none it fetches one with `npm install`, and it runs the binary once, which writes in HOME
 * and TMPDIR. This does the link only: offline, and nothing written outside node_modules.
 */
import { existsSync, readFileSync, rmSync, symlinkSync } from "node:fs";
import { dirname, join, relative } from "node:path";

const modules = join(import.meta.dir, "..", "node_modules");
const target = join(modules, "opencode-ai", "bin", "opencode.exe");

/** The platform packages opencode-ai's postinstall tries, in its order (x64 without AVX2 takes the baseline build). */
function candidates(): string[] {
  const platform = process.platform === "win32" ? "windows" : process.platform;
  const base = `opencode-${platform}-${process.arch}`;
  if (process.arch !== "x64") return [base, `${base}-musl`];
  const avx2 = platform === "linux" && /(^|\s)avx2(\s|$)/i.test(readFileSync("/proc/cpuinfo", "utf8"));
  return avx2 ? [base, `${base}-baseline`, `${base}-musl`, `${base}-baseline-musl`] : [`${base}-baseline`, base, `${base}-baseline-musl`, `${base}-musl`];
}

if (existsSync(target)) {
  const binary = candidates().map((name) => join(modules, name, "bin", "opencode")).find((p) => existsSync(p));
  if (binary) {
    rmSync(target);
    symlinkSync(relative(dirname(target), binary), target);
  } else process.stderr.write("postinstall: no opencode platform package installed; node_modules/.bin/opencode will not run\n");
}
