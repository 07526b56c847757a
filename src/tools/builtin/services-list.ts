import * as v from "valibot";
import { defineTool } from "../types.ts";
import { toolError } from "../errors.ts";

const Output = v.object({
  /** True when a VM is running and was asked; false on the host CLI, where there is no VM. */
  live: v.boolean(),
  services: v.array(
    v.object({
      protocol: v.literal("tcp"),
      host: v.nullable(v.string()),
      port: v.number(),
      url: v.string(),
      process: v.object({ id: v.string(), pid: v.nullable(v.number()), command: v.nullable(v.string()), children: v.array(v.string()) }),
    }),
  ),
});

export const servicesList = defineTool({
  name: "services.list",
  description:
    "TCP listeners started inside the VM during this run: port, host, URL and owning process. " +
    "Outside a run (no VM) the list is empty and live is false.",
  input: v.strictObject({}),
  output: Output,
  examples: [{ description: "Which dev servers are up", input: {} }],
  timeoutMs: 20_000,
  async execute(_input, ctx, call) {
    if (call.via === "vm" && !ctx.vm) throw toolError("no_vm", "services.list has no VM to look into yet", "the runtime attaches the VM after boot");
    if (!ctx.vm) return { live: false, services: [] };
    const listeners = await ctx.vm.listeners();
    return {
      live: true,
      services: listeners.map((l) => ({ ...l, url: `http://127.0.0.1:${l.port}/` })),
    };
  },
});
