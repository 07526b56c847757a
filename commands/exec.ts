import { defineCommand } from "citty";
import { globalArgs, parseSeconds, printJson, timeoutArgs, withHelp } from "./_shared.ts";
import { execWithPolicy } from "../src/plan/index.ts";
import { permissionHelp, type PermissionFlags } from "../src/caps/index.ts";
import { finishForRun, openForRun, snapshotArgs } from "./snapshot/_run.ts";

export default withHelp(
  defineCommand({
    meta: {
      name: "exec",
      description:
        "Boot an agentOS VM, mount the current directory (or --cwd DIR) writable at /workspace (or a snapshot's tree with --snapshot), " +
        "run COMMAND there through the VM's shell, stream its output and exit with its exit code. Writes in /workspace land in the directory " +
        "(with --snapshot they are discarded unless kept or committed); everything else in the VM is discarded.",
    },
    args: { ...globalArgs, ...timeoutArgs, ...snapshotArgs },
    async run({ args, rawArgs, data }) {
      const flags = (data as { permissionFlags?: PermissionFlags } | undefined)?.permissionFlags;
      const dash = rawArgs.indexOf("--");
      const command = dash === -1 ? [] : rawArgs.slice(dash + 1);
      const timeoutSec = parseSeconds(args.timeout, "--timeout");
      const stdin = process.stdin.isTTY ? undefined : new Uint8Array(await Bun.stdin.arrayBuffer());
      // --snapshot: the snapshot's tree at /workspace instead of the directory (src/snapshot, commands/snapshot/_run.ts).
      const snap = await openForRun(args);
      try {
        const result = await execWithPolicy({
          command,
          cwd: process.cwd(),
          policy: { flags, hostEnv: process.env },
          snapshot: snap,
          timeoutSec,
          stdin: stdin?.length ? stdin : undefined,
          debug: args.debug,
          ...(args.json ? {} : { onStdout: (c) => process.stdout.write(c), onStderr: (c) => process.stderr.write(c) }),
        });
        const snapshot = snap ? await finishForRun(snap, command.join(" ")) : undefined;
        if (args.json) printJson({ exitCode: result.exitCode, stdout: result.stdout, stderr: result.stderr, durationMs: result.durationMs, timedOut: result.timedOut, ...(snapshot ? { snapshot } : {}) });
        else if (result.timedOut) process.stderr.write(`error: the command did not finish within ${timeoutSec}s (exit 124)\n`);
        return result.exitCode;
      } finally {
        snap?.close();
      }
    },
  }),
  {
    permissionFlags: true,
    footer: permissionHelp,
    examples: [
      ["paperclip-aos exec -- ls -la", "list the current directory as the VM sees it"],
      ["paperclip-aos exec --cwd ./repo -- 'grep -rn TODO . | wc -l'", "one shell string runs as written"],
      ["paperclip-aos exec --timeout 30 -- sh ./check.sh", "stop after 30 s (exit 124)"],
      ["paperclip-aos exec --json -- cat VERSION", "{exitCode, stdout, stderr, durationMs}"],
      ["paperclip-aos exec --allow-net=registry.npmjs.org -- npm view citty version", "one more host than the default workspace-write policy"],
      ["paperclip-aos exec --preset read-only -- ls", "nothing may be written"],
      ["paperclip-aos exec --snapshot site -- ls", "start from a snapshot (paperclip-aos snapshot build); writes are discarded"],
      ["paperclip-aos exec --snapshot site --keep-changes out/ -- make", "export what the run changed to out/"],
      ["paperclip-aos exec --allow-tool=git.status -- agentos-paperclip git-status --json '{}'", "call a typed host tool from inside the VM"],
    ],
  },
);
