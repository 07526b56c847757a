import type { MainOptions } from "./main.ts";

/**
 * What both entries (cli.ts, cli.compiled.ts) run. `tool invoke` first tries its fast path (_fast.ts), which loads
 * only the tool's own modules; everything else, and every `tool invoke` the fast path leaves, is main's. main is
 * imported here, not at the top, so the fast path does not load it.
 */
export async function start(argv: string[], options: MainOptions = {}): Promise<never> {
  if (argv[0] === "tool" && argv[1] === "invoke") {
    const code = await (await import("./_fast.ts")).fastToolInvoke(argv.slice(2));
    if (code !== null) process.exit(code);
  }
  return (await import("./main.ts")).main(argv, options);
}
