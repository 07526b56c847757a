/**
 * Main export of the installed adapter package (bundled by bundle.ts, written by `paperclip-aos paperclip install`).
 * The command that starts paperclip-aos is read from the package's own package.json, where install put the
 * binary's absolute path.
 */
import { readFileSync } from "node:fs";
import { createAgentosAdapter } from "./adapter.ts";

export function createServerAdapter() {
  const pkg = JSON.parse(readFileSync(new URL("./package.json", import.meta.url), "utf8")) as { paperclipAos?: { command?: unknown } };
  const command = pkg.paperclipAos?.command;
  if (!Array.isArray(command) || command.length === 0 || !command.every((c) => typeof c === "string")) {
    throw new Error("agentos_local: package.json has no paperclipAos.command; reinstall with `paperclip-aos paperclip install`");
  }
  return createAgentosAdapter({ command: command as string[] });
}
