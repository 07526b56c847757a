import { defineCommand, globalArgs, withHelp } from "../_shared.ts";

/** Exported so the e2e table can require a test for each subcommand (commands/index.ts CommandPath). */
export const subCommands = {
  build: () => import("./build.ts").then((m) => m.default),
  ls: () => import("./ls.ts").then((m) => m.default),
  inspect: () => import("./inspect.ts").then((m) => m.default),
  rm: () => import("./rm.ts").then((m) => m.default),
  gc: () => import("./gc.ts").then((m) => m.default),
};

export default withHelp(
  defineCommand({
    meta: {
      name: "snapshot",
      description:
        "Snapshot roots: content-addressed, reusable workspace trees in the state dir. Build one from a directory once, then start " +
        "runs from it (`exec --snapshot NAME`, `run --snapshot NAME`): each run sees the tree at /workspace with a disposable upper " +
        "layer, and its writes vanish unless --keep-changes DIR or --commit-snapshot NAME keeps them.",
    },
    args: globalArgs,
    subCommands,
  }),
  {
    examples: [
      ["paperclip-aos snapshot build ./site --name site --respect-gitignore", "build (a rebuild of an unchanged tree is a cache hit)"],
      ["paperclip-aos exec --snapshot site -- npm run build", "run on the snapshot; writes are discarded"],
      ["paperclip-aos exec --snapshot site --keep-changes out/ -- ./gen.sh", "export what the run changed"],
      ["paperclip-aos snapshot ls", "names, ids, sizes"],
      ["paperclip-aos snapshot gc", "remove unnamed snapshots and unused layers"],
    ],
  },
);
