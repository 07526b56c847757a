import { existsSync } from "node:fs";
import { mkdir, rename, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { cacheDir } from "../paths.ts";

/**
 * agentOS 0.2.21 resolves `npm`, `npx`, `python` and `python3` to kernel command stubs that print nothing and exit 0,
 * so an agent told to make `npm test` pass sees success. The kernel looks commands up by name before PATH, so a
 * shell function or a script earlier on PATH does not shadow them; a software package does (its bin/ is linked into
 * /opt/agentos/bin and wins). This is that package, written into the cache dir once: each command says it is not
 * available and exits 127, as a missing command does. `--deny-run=node` changes nothing here: they fail either way.
 */
const PACKAGE = "paperclip-unavailable";
const MESSAGE: Record<string, string> = {
  npm: "npm is not available in this VM (agentOS 0.2.21 has no package manager); run scripts with node directly, e.g. node --test",
  npx: "npx is not available in this VM (agentOS 0.2.21 has no package manager); run the tool's script with node directly",
  python: "python is not available in this VM (agentOS 0.2.21 runs no Python from the shell)",
  python3: "python3 is not available in this VM (agentOS 0.2.21 runs no Python from the shell)",
  pip: "pip is not available in this VM (agentOS 0.2.21 runs no Python from the shell)",
  pip3: "pip3 is not available in this VM (agentOS 0.2.21 runs no Python from the shell)",
};
export const UNAVAILABLE_COMMANDS = Object.keys(MESSAGE);

function script(name: string): string {
  return `#!/bin/sh\n# ${PACKAGE}: ${name} is a silent stub in agentOS 0.2.21; fail like a missing command instead.\necho "${name}: ${MESSAGE[name]}" >&2\nexit 127\n`;
}

/** The package dir (agentos-package.json + bin/), made on first use; its name carries a hash of its content. */
export async function unavailableCommandsPackage(): Promise<string> {
  const files: Record<string, string> = { "agentos-package.json": `${JSON.stringify({ name: PACKAGE, version: "1.0.0" })}\n` };
  for (const name of UNAVAILABLE_COMMANDS) files[`bin/${name}`] = script(name);
  const hash = new Bun.CryptoHasher("sha256").update(JSON.stringify(files)).digest("hex").slice(0, 16);
  const dir = join(cacheDir(), "software", `${PACKAGE}-${hash}`);
  if (existsSync(join(dir, "agentos-package.json"))) return dir;
  const tmp = `${dir}.${process.pid}.tmp`;
  await rm(tmp, { recursive: true, force: true });
  await mkdir(join(tmp, "bin"), { recursive: true });
  for (const [path, content] of Object.entries(files)) await writeFile(join(tmp, path), content, { mode: path.startsWith("bin/") ? 0o755 : 0o644 });
  await rename(tmp, dir).catch(async (e) => {
    await rm(tmp, { recursive: true, force: true });
    if (!existsSync(join(dir, "agentos-package.json"))) throw e;
  });
  return dir;
}
