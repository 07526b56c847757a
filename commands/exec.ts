import { defineCommand } from "citty";
import { globalArgs, parseSeconds, printJson, timeoutArgs, withHelp, workerArgs } from "./_shared.ts";
import { execWithPolicy } from "../src/plan/index.ts";
import type { ExecStdin } from "../src/runtime/index.ts";
import { logger } from "../src/log.ts";
import { startSpinner } from "../src/progress.ts";
import { usageError } from "../src/errors.ts";
import { permissionHelp } from "../src/caps/index.ts";
import { finishForRun, openForRun, snapshotArgs } from "./snapshot/_run.ts";
import { loadConfig, withConfigPreset } from "../src/config/index.ts";
import { commandData } from "./_argv.ts";

export default withHelp(
  defineCommand({
    meta: {
      name: "exec",
      description:
        "Boot an agentOS VM, mount the current directory (or --cwd DIR) writable at /workspace (or a snapshot's tree with --snapshot), " +
        "run COMMAND there through the VM's shell, stream its output and exit with its exit code. Writes in /workspace land in the directory " +
        "(with --snapshot they are discarded unless kept or committed); everything else in the VM is discarded.",
    },
    args: {
      ...globalArgs,
      timeout: { ...timeoutArgs.timeout, description: "Stop the command after SECONDS, counted from when it starts in the VM (the boot is not counted); exit 124" },
      interactive: { type: "boolean", alias: "i", description: "Forward stdin to the command even when it is a terminal (type into `exec -i -- sh`; Ctrl-D ends it)" },
      tty: { type: "boolean", alias: "t", description: "Not available: agentOS 0.2.21 cannot give the command a terminal (use -i)" },
      ...snapshotArgs,
      ...workerArgs,
    },
    async run({ args, data }) {
      const { permissionFlags, passthrough } = commandData(data);
      const command = passthrough ?? [];
      const config = loadConfig({ cwd: process.cwd() }).values;
      const flags = withConfigPreset(permissionFlags, config.preset);
      const timeoutSec = parseSeconds(args.timeout, "--timeout") ?? config.timeoutSec;
      const stdin = guestStdin(args.interactive === true, args.tty === true, command);
      // --snapshot: the snapshot's tree at /workspace instead of the directory (src/snapshot, commands/snapshot/_run.ts).
      const snap = await openForRun(args);
      const spinner = args.json ? undefined : startSpinner("booting the VM");
      const guestOutput = (stream: NodeJS.WriteStream) => (c: Uint8Array) => {
        spinner?.stop();
        stream.write(c);
      };
      try {
        // A warm worker (paperclip-aos serve) runs it on its warm sidecar; a snapshot run stays in this process.
        const { tryExecViaWorker } = await import("../src/worker/index.ts");
        const output = args.json ? {} : { onStdout: guestOutput(process.stdout), onStderr: guestOutput(process.stderr) };
        const remote = snap ? undefined : await tryExecViaWorker(args.worker, { command, cwd: process.cwd(), permissionFlags: flags, timeoutSec, stdin, debug: args.debug, ...output });
        const result = remote ?? await execWithPolicy({
          command,
          cwd: process.cwd(),
          policy: { flags, hostEnv: process.env },
          snapshot: snap,
          timeoutSec,
          stdin,
          debug: args.debug,
          onStarted: () => spinner?.stop(),
          ...output,
        });
        const snapshot = snap ? await finishForRun(snap, command.join(" ")) : undefined;
        if (args.json) printJson({ exitCode: result.exitCode, stdout: result.stdout, stderr: result.stderr, durationMs: result.durationMs, timedOut: result.timedOut, ...(snapshot ? { snapshot } : {}) });
        else if (result.timedOut) process.stderr.write(`error: the command did not finish within ${timeoutSec}s (exit 124)\n`);
        return result.exitCode;
      } finally {
        spinner?.stop();
        snap?.close();
      }
    },
  }),
  {
    exitCodes: [["N", "the command's own exit status"], ["1", "the VM did not boot or the runtime failed"], ["2", "invalid input or policy (nothing ran)"], ["124", "--timeout passed"], ["130/143", "interrupted by SIGINT (Ctrl-C) / SIGTERM"]],
    permissionFlags: true,
    afterDash: "COMMAND",
    blocks: () => [permissionHelp()],
    examples: [
      ["paperclip-aos exec -- ls -la", "list the current directory as the VM sees it"],
      ["paperclip-aos exec --cwd ./repo -- 'grep -rn TODO . | wc -l'", "one shell string runs as written"],
      ["paperclip-aos exec --timeout 30 -- sh ./check.sh", "stop after 30 s of running (exit 124)"],
      ["git diff | paperclip-aos exec -- wc -l", "piped stdin reaches the command as it comes; its end is EOF"],
      ["paperclip-aos exec -i -- sh", "type commands into a shell in the VM (no prompt or line editing: there is no terminal)"],
      ["paperclip-aos exec --json -- cat VERSION", "{exitCode, stdout, stderr, durationMs}, colour codes removed"],
      ["paperclip-aos exec --allow-net=registry.npmjs.org -- npm view citty version", "the default workspace-write policy plus network to one host"],
      ["paperclip-aos exec --allow-write=/workspace/out -- make", "writes only in /workspace/out (the flag replaces the preset's writes)"],
      ["paperclip-aos exec --preset read-only -- ls", "nothing may be written"],
      ["paperclip-aos exec --snapshot site -- ls", "start from a snapshot (paperclip-aos snapshot build); writes are discarded"],
      ["paperclip-aos exec --snapshot site --keep-changes out/ -- make", "export what the run changed to out/"],
      ["paperclip-aos exec --allow-tool=git.status -- agentos-paperclip git-status --json '{}'", "call a typed host tool from inside the VM"],
    ],
  },
);

const SHELLS = new Set(["sh", "bash", "ash", "dash", "zsh", "brush"]);

/**
 * The guest's stdin: a pipe or file is forwarded as it comes (its end is the guest's EOF); a terminal only with -i,
 * otherwise the guest sees EOF at once, as `docker run` without -i does.
 */
function guestStdin(interactive: boolean, tty: boolean, command: string[]): ExecStdin | undefined {
  if (tty) {
    throw usageError(
      "exec cannot give the command a terminal (-t): agentOS 0.2.21's shell waits for a cursor-position answer its terminal never delivers",
      "use -i to forward stdin without a terminal (paperclip-aos exec -i -- sh), or pass the commands as one string",
      "tty_unsupported",
    );
  }
  if (interactive || !process.stdin.isTTY) return Bun.stdin.stream() as unknown as AsyncIterable<Uint8Array>;
  if (command.length === 1 && SHELLS.has(command[0]!.trim())) {
    logger.warn(`${command[0]} reads its commands from stdin, which stays closed on a terminal without -i: run 'paperclip-aos exec -i -- ${command[0]}'`);
  }
  return undefined;
}
