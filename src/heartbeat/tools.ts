import { readGate, toolGate, type CompiledSandbox } from "../caps/index.ts";
import { createHostTools, type VmListener } from "../tools/index.ts";
import type { RuntimeService } from "../protocol/index.ts";
import type { EventSink } from "./events.ts";
import type { HostToolsBinding } from "./run.ts";

/**
 * The typed tools for one heartbeat: every built-in is a host function (a call the policy does not allow fails with a
 * permission error: the kernel's hostFunction scope, then the same policy asked again on the host), each call the
 * agent makes shows in the stream as tool_call / tool_result with the tool's name, a refusal as a `permission` event,
 * and the listeners the agent started become `service` events and the result's runtimeServices.
 */
export async function bindHostTools(sandbox: CompiledSandbox, ctx: { workspaceDir: string; runId: string; sink: EventSink; stateDir?: string }): Promise<HostToolsBinding> {
  const { sink } = ctx;
  const tools = await createHostTools({
    workspaceDir: ctx.workspaceDir,
    stateDir: ctx.stateDir,
    runId: ctx.runId,
    // Record the workspace as it is now, so workspace.diff answers "what did this run change".
    baseline: true,
    decide: toolGate(sandbox.policy),
    // Files the tools read for the agent are decided with its own fs policy (a refused one is a permission event).
    decideRead: readGate(sandbox.policy, { workspaceHostDir: ctx.workspaceDir }),
    onCall: (c) => {
      if (c.via !== "vm") return;
      sink.emit({ type: "tool_call", toolUseId: c.callId, name: c.name, input: c.input });
      sink.emit({
        type: "tool_result",
        toolUseId: c.callId,
        toolName: c.name,
        content: JSON.stringify(c.error ? { error: c.error } : c.output ?? null),
        isError: Boolean(c.error),
      });
    },
    onDenied: (d) => sink.emit({ type: "permission", capability: d.capability, target: d.target, decision: "deny", reason: d.capability === "fs.read" ? `${d.tool}: ${d.reason}` : d.reason }),
  });
  return {
    hostFunctions: tools.hostFunctions,
    allowedTools: tools.allowedTools.map((t) => `${t} (\`${tools.guestCommands[t]}\`)`),
    attachVm: tools.attachVm,
    services: async () => (await tools.services()).map((l) => toService(l, ctx.runId)),
    close: tools.close,
  };
}

function toService(l: VmListener, runId: string): RuntimeService {
  const host = l.host && l.host !== "0.0.0.0" && l.host !== "::" ? l.host : "127.0.0.1";
  return {
    serviceName: l.process.command ? `${l.process.command.split(/\s+/)[0]}:${l.port}` : `port ${l.port}`,
    status: "running",
    lifecycle: "ephemeral",
    scopeType: "run",
    scopeId: runId,
    port: l.port,
    url: `http://${host}:${l.port}`,
    ...(l.process.command ? { command: l.process.command } : {}),
    healthStatus: "unknown",
  };
}
