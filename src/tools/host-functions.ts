import type { HostFunction, HostFunctionCollections } from "@rivet-dev/agentos-core";
import { errorInfo } from "./errors.ts";
import { invokeTool, nextCallId } from "./invoke.ts";
import { HOST_COLLECTION, hostFunctionKey, toolResource } from "./names.ts";
import type { ToolRegistry } from "./registry.ts";
import { jsonSchemaOf } from "./schema.ts";
import type { ToolCallRecord, ToolContext } from "./types.ts";

export interface GateDecision {
  allowed: boolean;
  /** Which rule decided, for the `permission` event (e.g. "tool.invoke deny git.*"). */
  reason?: string;
}

/** The host-side half of tool gating: asked before every call that arrives from the VM. */
export type ToolGate = (toolName: string) => GateDecision;

export interface ToolDenial {
  /** tool.invoke: the tool itself was refused; fs.read: the tool ran but may not read `target` for the agent. */
  capability: "tool.invoke" | "fs.read";
  tool: string;
  /** The tool name (tool.invoke) or the guest path refused (fs.read). */
  target: string;
  resource: string;
  reason: string;
  /** Always "host": our own check refused it. (agentOS's own refusals never reach the host; heartbeat's findDenials reads them in guest output.) */
  by: "host";
}

export interface HostFunctionOptions {
  gate: ToolGate;
  onCall?: (record: ToolCallRecord) => void;
  onDenied?: (denial: ToolDenial) => void;
}

/** `*` matches any run of characters; tool names have no '/', so this agrees with agentOS's glob on resources. */
function globRegex(glob: string): RegExp {
  return new RegExp(`^${glob.split("*").map((s) => s.replace(/[.+?^${}()|[\]\\]/g, "\\$&")).join(".*")}$`);
}

/** A gate from allow and deny globs over tool names (`git.*`, `*`); deny wins over allow, nothing is allowed by default. */
export function allowListGate(allow: string[], deny: string[] = []): ToolGate {
  const a = allow.map((g) => [g, globRegex(g)] as const);
  const d = deny.map((g) => [g, globRegex(g)] as const);
  return (name) => {
    const denied = d.find(([, r]) => r.test(name));
    if (denied) return { allowed: false, reason: `tool.invoke deny ${denied[0]}` };
    const allowed = a.find(([, r]) => r.test(name));
    return allowed ? { allowed: true, reason: `tool.invoke allow ${allowed[0]}` } : { allowed: false, reason: "tool.invoke: not in the policy (deny by default)" };
  };
}

/**
 * The registry as agentOS host functions: collection "paperclip" (guest CLI `agentos-paperclip <fn> --json '{..}'`),
 * one function per tool. agentOS wants a zod schema; it is rebuilt from the tool's JSON Schema (z.fromJSONSchema) so
 * agentOS's flag parsing, `--json` and `agentos list-host-functions` describe the tool exactly. Its safeParse is
 * made a pass-through: the tool's valibot schema is the one validator, so the agent gets the same error text as the
 * host CLI and every call, even an invalid one, reaches `onCall`.
 */
export async function toHostFunctions(registry: ToolRegistry, ctx: ToolContext, opts: HostFunctionOptions): Promise<HostFunctionCollections> {
  // zod only matters once a VM boots with tools: imported here, it is a chunk of its own (~600 KB with its locales)
  // that no other command loads.
  const { z } = await import("zod");
  const fns: Record<string, HostFunction> = {};
  for (const tool of registry.list()) {
    const name = tool.name;
    const inputSchema = z.fromJSONSchema(jsonSchemaOf(tool.input, tool.description) as Parameters<typeof z.fromJSONSchema>[0]);
    (inputSchema as { safeParse: (x: unknown) => unknown }).safeParse = (data: unknown) => ({ success: true, data });
    fns[hostFunctionKey(name)] = {
      inputSchema,
      ...(tool.examples?.length ? { examples: tool.examples } : {}),
      timeout: tool.timeoutMs ?? 30_000,
      execute: async (input: unknown) => {
        const callId = nextCallId();
        const decision = opts.gate(name);
        if (!decision.allowed) {
          const reason = decision.reason ?? "tool.invoke denied";
          opts.onDenied?.({ capability: "tool.invoke", tool: name, target: name, resource: toolResource(name), reason, by: "host" });
          const error = { code: "permission_denied", message: `${name} is not allowed by the policy (${reason})` };
          opts.onCall?.({ callId, name, input, error, durationMs: 0, via: "vm" });
          throw new Error(`${error.code}: ${error.message}`);
        }
        try {
          return await invokeTool(registry, name, input, ctx, { via: "vm", callId, onCall: opts.onCall });
        } catch (e) {
          const info = errorInfo(e);
          // agentOS prints the message on the guest's stderr and exits 1; keep the code so the agent can match it.
          throw new Error(`${info.code}: ${info.message}${info.hint ? ` (${info.hint})` : ""}`);
        }
      },
    };
  }
  return { [HOST_COLLECTION]: fns };
}

