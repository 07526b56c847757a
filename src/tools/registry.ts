import { usageError } from "../errors.ts";
import { closest } from "../suggest.ts";
import type { AnyTool } from "./types.ts";

/** Dotted lower-case words, so the host-function name (`git.status` → `git-status`) maps back one to one. */
const TOOL_NAME = /^[a-z][a-z0-9]*(\.[a-z][a-z0-9]*)+$/;

/** agentOS 0.2.21's limit on a host function's description. */
const MAX_DESCRIPTION = 200;

export class ToolRegistry {
  readonly #tools = new Map<string, AnyTool>();

  constructor(tools: Iterable<AnyTool> = []) {
    for (const t of tools) this.add(t);
  }

  add(tool: AnyTool): this {
    if (!TOOL_NAME.test(tool.name)) throw new Error(`tool name '${tool.name}' must be dotted lower-case words like 'git.status'`);
    // agentOS refuses to boot a VM whose host function has a longer description.
    if (tool.description.length > MAX_DESCRIPTION) throw new Error(`tool '${tool.name}': description is ${tool.description.length} characters, max ${MAX_DESCRIPTION}`);
    if (this.#tools.has(tool.name)) throw new Error(`tool '${tool.name}' is registered twice`);
    this.#tools.set(tool.name, tool);
    return this;
  }

  /** The tool, or a usage error (exit 2) naming the closest tool. */
  require(name: string): AnyTool {
    const tool = this.#tools.get(name);
    if (tool) return tool;
    const near = closest(name, this.names());
    throw usageError(
      `unknown tool '${name}'`,
      near ? `did you mean '${near}'?` : `run 'paperclip-aos tool list' for the tools (${this.names().join(", ")})`,
      "unknown_tool",
    );
  }

  list(): AnyTool[] {
    return [...this.#tools.values()].sort((a, b) => a.name.localeCompare(b.name));
  }

  names(): string[] {
    return this.list().map((t) => t.name);
  }
}
