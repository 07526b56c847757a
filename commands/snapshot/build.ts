import { defineCommand, globalArgs, out, printJson, withHelp } from "../_shared.ts";
import { buildSnapshot, describeNameMove, formatBytes, progressReporter, shortId, type BuildResult } from "../../src/snapshot/index.ts";
import { logger } from "../../src/log.ts";

/** Repeated flags are errors in this CLI, so a list is one comma-separated value. */
function splitList(value: string | undefined): string[] {
  return (value ?? "")
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean);
}

function report(r: BuildResult): void {
  for (const p of r.skippedSpecial) logger.warn(`skipped ${p}: not a regular file, directory or symlink (socket, FIFO or device)`);
  if (r.sensitiveExcluded.length) {
    const shown = r.sensitiveExcluded.slice(0, 5).map((s) => s.path).join(", ");
    const more = r.sensitiveExcluded.length > 5 ? ` and ${r.sensitiveExcluded.length - 5} more` : "";
    logger.warn(
      `left out ${r.sensitiveExcluded.length} file${r.sensitiveExcluded.length > 1 ? "s" : ""} the capability mandatory-deny list names as secrets: ${shown}${more} ` +
        `(to store one, name it: --include ${r.sensitiveExcluded[0]!.path})`,
    );
  }
  for (const s of r.sensitiveIncluded) logger.warn(`included ${s.path}, a secret by the mandatory-deny rule '${s.rule}', because --include names it`);
  if (r.layersRepaired) logger.warn(`${r.layersRepaired} stored layer${r.layersRepaired > 1 ? "s were" : " was"} damaged and ${r.layersRepaired > 1 ? "were" : "was"} written again from the source`);
  const moved = r.nameMove && describeNameMove(r.nameMove);
  if (moved) logger.warn(moved);
}

export default withHelp(
  defineCommand({
    meta: {
      name: "build",
      description:
        "Build a snapshot of DIR: files, directories, symlinks (stored as links, never followed), permission bits and mtimes, split into " +
        "content-chunked layers in the store. Prints the snapshot id (a digest of the content) on stdout. A rebuild of an unchanged tree is a " +
        "cache hit; a one-file change rewrites one layer. Secrets the capability mandatory-deny list names (.env*, keys, credentials) are left " +
        "out unless --include names them; sockets, FIFOs and devices are skipped with a warning.",
    },
    args: {
      dir: { type: "positional", required: true, valueHint: "DIR", description: "The directory to snapshot" },
      name: { type: "string", valueHint: "NAME", description: "Name (tag) for the snapshot; runs refer to it by name or id" },
      include: {
        type: "string",
        valueHint: "GLOB[,GLOB]",
        description: "Put back paths an exclusion dropped (--exclude, .gitignore, the secrets list); a secret only when the glob names it",
      },
      exclude: { type: "string", valueHint: "GLOB[,GLOB]", description: "Leave these paths out (`node_modules`, `*.log`, `/dist`)" },
      "respect-gitignore": { type: "boolean", description: "Leave out what .gitignore files (and .git/info/exclude) ignore, and .git itself" },
      force: { type: "boolean", description: "Move --name even when it names another snapshot, without keeping that one (the next gc removes it)" },
      ...globalArgs,
    },
    async run({ args }) {
      // --json is for a program: its stderr carries warnings and errors, not a progress line every few seconds.
      const progress = progressReporter({ label: "building snapshot", enabled: !args.json && !args.quiet && args["log-level"] !== "silent" });
      let result: BuildResult;
      try {
        result = await buildSnapshot({
          dir: String(args.dir),
          name: args.name,
          include: splitList(args.include),
          exclude: splitList(args.exclude),
          respectGitignore: Boolean(args["respect-gitignore"]),
          force: Boolean(args.force),
          onProgress: (p) => progress.update(p),
        });
      } finally {
        progress.done();
      }
      report(result);
      const { id, name, files, bytes, layers, durationMs, cached } = result;
      if (args.json) {
        printJson({
          id,
          name,
          files,
          bytes,
          layers,
          durationMs,
          cached,
          layersWritten: result.layersWritten,
          layersRepaired: result.layersRepaired,
          ...(result.nameMove?.previous ? { nameMoved: { from: result.nameMove.previous, retained: Boolean(result.nameMove.retained) } } : {}),
          storedBytes: result.storedBytes,
          skipped: result.skippedSpecial,
          secretsExcluded: result.sensitiveExcluded,
          secretsIncluded: result.sensitiveIncluded,
        });
      } else {
        out(id);
        logger.info(
          `${cached ? "cached" : "built"} snapshot ${shortId(id)}${name ? ` (${name})` : ""}: ${files} files, ${formatBytes(bytes)}, ` +
            `${layers} layer${layers === 1 ? "" : "s"} (${result.layersWritten} written) in ${(durationMs / 1000).toFixed(2)}s`,
        );
      }
    },
  }),
  {
    exitCodes: [["0", "built (or cached)"], ["1", "a directory unreadable or a path too long (snapshot_source_unreadable); a file removed or swapped for a link during the build (snapshot_source_changed: run it again)"], ["2", "invalid input: DIR missing, a bad --name, a name in the tree that is not UTF-8 (snapshot_source_bad_name)"], ["130/143", "interrupted by SIGINT (Ctrl-C) / SIGTERM"]],
    // Boots no VM, so main does not load the runtime for it (agentOS, its signal handling, the embedded assets: ~10 ms
    // of CPU). A signal ends the build the default way; what it had written is a temp file, which `snapshot gc` removes.
    runtime: false,
    footer: () =>
      "GLOBS: `*` within a path segment, `**` any depth, `?`, `[abc]`. Without a '/' a glob matches a name at any depth; with one it is\n" +
      "anchored at DIR (so name a deeper secret as `**/.env` or `app/.env`); a trailing '/' matches directories only. A directory's\n" +
      "verdict covers what is below it. Give several globs as one comma-separated value. A snapshot without --name is usable by id\n" +
      "until the next `snapshot gc`.\n\n" +
      "REUSE: a layer already in the store is reused only if it is whole (checked once, then while its file is unchanged); a damaged\n" +
      "layer is written again. A --name that names another snapshot moves, with a warning, and the old snapshot is kept (gc leaves\n" +
      "it alone; `snapshot rm ID` removes it) unless --force. A build that fails lists no snapshot and leaves none of its layers.\n",
    examples: [
      ["paperclip-aos snapshot build . --name app --respect-gitignore", "what git would track, named app"],
      ["paperclip-aos snapshot build ./site --exclude 'node_modules,*.log'", "leave paths out"],
      ["paperclip-aos snapshot build . --name app --include .env.example", "store a file the secrets list would leave out"],
      ["paperclip-aos snapshot build . --json", "{id, name, files, bytes, layers, durationMs, cached}"],
      ["paperclip-aos snapshot build . --name app --force", "move the name app here; the snapshot it named goes at the next gc"],
    ],
  },
);
