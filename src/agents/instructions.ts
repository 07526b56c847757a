import { GUEST_WORKSPACE } from "../guest.ts";

/** What the agent is told about its surroundings; each driver delivers it its own way (AgentDriver.setup). */
export function paperclipInstructions(opts: { runId: string; tools: string[]; policySummary: string[] }): string {
  const lines = [
    "## paperclip-aos",
    `You are working for Paperclip inside an agentOS VM (run ${opts.runId}). The project is at ${GUEST_WORKSPACE}: read and change files there.`,
    "A capability policy limits what you may read, write, fetch, listen on, spawn and see in the environment. A 'Permission denied' or",
    "'blocked by ... policy' error means the policy forbids that action: do not try to work around it; say what you needed instead.",
    // agentOS 0.2.21 does not start a bare entry name from the workspace filesystem (docs/agentos.md, "Filesystem and
    // mounts"): `node test.mjs` fails with "command not found: node", a .js file in a "type": "module" package is
    // loaded as CommonJS, and once the file was started by a path the bare name runs a stale copy of it.
    `Run Node.js files by absolute path (\`node ${GUEST_WORKSPACE}/test.mjs\`, not \`node test.mjs\`): in this VM a bare file name fails with "command not found: node", loads an ES module as CommonJS, or runs an old copy of the file.`,
  ];
  if (opts.policySummary.length) lines.push("", "The policy for this run:", ...opts.policySummary.map((s) => `- ${s}`));
  if (opts.tools.length) {
    lines.push(
      "",
      "Typed host tools are available as a command: `agentos-paperclip <tool> --json '<input JSON>'` (it prints JSON).",
      "Run it as a command of its own: its output is lost through a pipe, a redirect or $(...) in this VM's shell.",
      `Tools you may call: ${opts.tools.join(", ")}.`,
    );
  }
  return lines.join("\n");
}
