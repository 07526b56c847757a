import { defineCommand } from "citty";
import { err, globalArgs, printJson, withHelp } from "../_shared.ts";
import { installRivet } from "../../src/rivet/index.ts";
import { startSpinner } from "../../src/progress.ts";
import { logger, logProgress } from "../../src/log.ts";
import { setSignalHandler } from "../../src/runtime/index.ts";

export default withHelp(
  defineCommand({
    meta: {
      name: "install",
      description:
        "Install the pinned Rivet engine parts (rivetkit and @rivetkit/engine-cli, with the rivet-engine binary) into " +
        "<cache>/rivet/<version>/ with Bun's installer, from the lock file this binary carries: about 320 MB. The install is " +
        "built beside the final directory and renamed into place once checked, so an interrupted one never counts. Needs the npm registry.",
    },
    args: {
      ...globalArgs,
      force: { type: "boolean", description: "Install again even when this version is there" },
    },
    async run({ args }) {
      // No spinner and no progress lines with --json (src/log.ts, progressShown); the installer's lines show with --debug.
      const spinner = startSpinner("installing the Rivet engine parts");
      // Ctrl-C or SIGTERM stops bun and removes the half-done install before exiting (130 / 143).
      const stop = new AbortController();
      setSignalHandler((sig) => stop.abort(sig));
      try {
        const r = await installRivet({
          force: args.force,
          signal: stop.signal,
          onProgress: (line) => {
            if (line.startsWith("  bun: ")) {
              spinner.update(line.trim());
              logger.debug(line.trim());
            } else if (!spinner.active) logProgress(line);
            else spinner.update(line);
          },
        });
        spinner.stop();
        if (args.json) printJson(r);
        else if (!args.quiet) err(r.alreadyInstalled ? `already installed: ${r.dir} (--force installs again)\n` : `installed ${r.version} in ${(r.installMs / 1000).toFixed(1)} s: ${r.dir}\n`);
        return 0;
      } finally {
        spinner.stop();
        setSignalHandler(undefined);
      }
    },
  }),
  {
    examples: [
      ["paperclip-aos engine install", "install once; later calls see it is there"],
      ["paperclip-aos engine install --force --json", "{dir, version, alreadyInstalled, installMs, enginePath}"],
      ["PAPERCLIP_AOS_CACHE=/srv/aos-cache paperclip-aos engine install", "into another cache dir (every command then needs the same PAPERCLIP_AOS_CACHE)"],
    ],
  },
);
