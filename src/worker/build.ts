import { buildInfo } from "../version.ts";

/** The build a client must match: a worker from another build may speak another protocol or run other code. */
export function buildTag(): string {
  const b = buildInfo();
  return `${b.version} ${b.commit}`;
}
