/**
 * `paperclip-aos tool invoke` on the host: the one call path (invokeTool) with a registry of only the tool asked for,
 * so a command that runs one tool loads that tool alone (start-up is most of a `tool invoke git.status`; README.md
 * beside this file, "Benchmark"). An unknown name gets the full registry, whose error names the closest tool.
 */
import { createToolContext } from "./context.ts";
import { invokeTool } from "./invoke.ts";
import { ToolRegistry } from "./registry.ts";
import { checkRunId } from "./run-dir.ts";
import { BUILTIN_LOADERS } from "./builtin/lazy.ts";

export { errorInfo } from "./errors.ts";

export async function invokeOnHost(name: string, input: unknown, opts: { workspaceDir: string; runId?: string }): Promise<unknown> {
  const runId = opts.runId ? checkRunId(opts.runId) : undefined;
  const ctx = await createToolContext({ workspaceDir: opts.workspaceDir, runId });
  const load = Object.hasOwn(BUILTIN_LOADERS, name) ? BUILTIN_LOADERS[name] : undefined;
  const registry = load ? new ToolRegistry([await load()]) : (await import("./builtin/index.ts")).builtinRegistry();
  return invokeTool(registry, name, input, ctx);
}
