import { afterEach } from "bun:test";
import { rm } from "node:fs/promises";
import { type Gateway, type GatewayOptions, startGateway } from "../../src/gateway/index.ts";
import { tempDir } from "../tmp.ts";

/**
 * Gateways and temp dirs a test file starts, closed and removed after each of its tests. Each file calls this itself:
 * bun test evaluates an imported module once per run, so an afterEach at this module's top level would be registered
 * in the first importing file only (checked with bun 1.4.5).
 */
export function gatewayFixture(tmpPrefix: string) {
  const open: Gateway[] = [];
  const dirs: string[] = [];
  afterEach(async () => {
    await Promise.all(open.splice(0).map((g) => g.close()));
    await Promise.all(dirs.splice(0).map((d) => rm(d, { recursive: true, force: true })));
  });
  return {
    async start(opts: GatewayOptions): Promise<Gateway> {
      const gw = await startGateway(opts);
      open.push(gw);
      return gw;
    },
    async tmp(): Promise<string> {
      const d = await tempDir(tmpPrefix);
      dirs.push(d);
      return d;
    },
  };
}
