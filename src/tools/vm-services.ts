import type { AgentOs } from "@rivet-dev/agentos-core";
import { toolError } from "./errors.ts";

/**
 * What a running VM tells the tools about its services. The runtime builds one with `vmServicesFor(vm)` after boot
 * and passes it in the tool context; `run` can also poll `listeners()` after each agent step and emit a `service`
 * event for every new port (see `diffListeners`).
 *
 * What agentOS 0.2.21 gives (measured, notes in src/tools/README.md):
 * - no public "list listeners" call, no /proc/net in the guest, no listen event;
 * - the sidecar protocol's `find_listener {host?, port?}` answers "who listens on this port" (processId, host,
 *   port) and `get_resource_snapshot` counts listeners; both are reached through AgentOs's private sidecar client
 *   (`_sidecarClient`, `_sidecarSession`, `_sidecarVm`), so this file is pinned to 0.2.21's internals;
 * - `find_listener` is checked against the VM's `network` policy with operation `inspect`: the policy must allow
 *   it (withHostToolPermissions adds that rule), else every lookup is EACCES;
 * - at most 128 requests may be in flight (ERR_AGENTOS_PROTOCOL_FRAME_LIMIT), and a lookup costs about 0.1 ms, so
 *   finding N listeners is: count them, probe likely ports, and sweep 1..65535 (about 2 s) only while some are
 *   still unaccounted for;
 * - TCP only: UDP sockets are found by port (`find_bound_udp`) but not counted, so they are not listed;
 * - the owner is the *execution* (for a shell command, the shell: "execution:…:1"), so the command shown is that
 *   execution's, with its running children (e.g. sh → node).
 * `vm.network.httpRequest({port})` reaches a VM listener from the host and is public API: preview.status uses it.
 */
export interface VmListener {
  protocol: "tcp";
  host: string | null;
  port: number;
  process: { id: string; pid: number | null; command: string | null; children: string[] };
}

export interface VmHttpResponse {
  status: number;
  headers: Record<string, string>;
  body: Uint8Array;
}

export interface VmServices {
  listeners(): Promise<VmListener[]>;
  http(req: { port: number; path: string; method?: string; timeoutMs?: number }): Promise<VmHttpResponse>;
}

/** Ports dev servers usually pick: probed before the full sweep. */
const COMMON_PORTS = [
  3000, 3001, 3002, 3003, 4000, 4173, 4200, 4321, 5000, 5001, 5173, 5174, 5500, 6006, 8000, 8001, 8008, 8080, 8081, 8787, 8888, 9000, 9229,
];

const BATCH = 100; // under the sidecar's 128-frame ingress limit

interface SidecarClientLike {
  findListener(session: unknown, vm: unknown, req: { host?: string | null; port?: number | null }): Promise<{ processId: string; host: string | null; port: number | null } | null>;
  getResourceSnapshot(session: unknown, vm: unknown): Promise<{ socketListeners: number | bigint }>;
  getProcessSnapshot(session: unknown, vm: unknown): Promise<{ processId: string; pid: number; command: string; status: string }[]>;
}

export function vmServicesFor(vm: AgentOs, opts: { candidatePorts?: number[] } = {}): VmServices {
  const internals = vm as unknown as { _sidecarClient?: SidecarClientLike; _sidecarSession?: unknown; _sidecarVm?: unknown };
  return {
    async listeners() {
      const client = internals._sidecarClient;
      if (!client?.findListener || !client.getResourceSnapshot) {
        throw toolError("unsupported", "this agentOS version does not expose listener lookups", "services.list is built for @rivet-dev/agentos-core 0.2.21");
      }
      const s = internals._sidecarSession;
      const v = internals._sidecarVm;
      const want = Number((await client.getResourceSnapshot(s, v)).socketListeners);
      if (want === 0) return [];
      const found = new Map<number, { processId: string; host: string | null; port: number }>();
      const probe = async (ports: number[]) => {
        for (let i = 0; i < ports.length && found.size < want; i += BATCH) {
          const batch = ports.slice(i, i + BATCH);
          const results = await Promise.all(
            batch.map((port) =>
              client.findListener(s, v, { port }).catch((e: unknown) => {
                if (/network\.inspect/.test(String(e))) {
                  throw toolError("inspect_denied", "the VM's network policy does not allow listener lookups (network inspect)", "the runtime must boot the VM with withHostToolPermissions(permissions)");
                }
                return null;
              }),
            ),
          );
          for (const r of results) if (r?.port != null) found.set(r.port, { processId: r.processId, host: r.host, port: r.port });
        }
      };
      const first = [...new Set([...(opts.candidatePorts ?? []), ...COMMON_PORTS])];
      await probe(first);
      if (found.size < want) {
        const tried = new Set(first);
        const rest: number[] = [];
        for (let p = 1; p <= 65535; p++) if (!tried.has(p)) rest.push(p);
        await probe(rest);
      }
      const procs = await client.getProcessSnapshot(s, v).catch(() => []);
      return [...found.values()]
        .sort((a, b) => a.port - b.port)
        .map((l) => {
          const own = procs.find((p) => p.processId === l.processId);
          const children = procs.filter((p) => p.processId.startsWith(`${l.processId}/`) && p.status === "running").map((p) => p.command);
          return {
            protocol: "tcp" as const,
            host: l.host,
            port: l.port,
            process: { id: l.processId, pid: own?.pid ?? null, command: own?.command ?? null, children },
          };
        });
    },
    async http(req) {
      const r = await withTimeout(
        vm.network.httpRequest({ port: req.port, path: req.path, method: req.method ?? "GET" }),
        req.timeoutMs ?? 5000,
      );
      const headers: Record<string, string> = {};
      for (const [k, val] of Object.entries((r as { headers?: Record<string, string | string[]> }).headers ?? {})) {
        headers[k.toLowerCase()] = Array.isArray(val) ? val.join(", ") : String(val);
      }
      const body = (r as { body?: unknown }).body;
      return { status: r.status, headers, body: toBytes(body) };
    },
  };
}

function toBytes(body: unknown): Uint8Array {
  if (body instanceof Uint8Array) return body;
  if (typeof body === "string") return new TextEncoder().encode(body);
  if (body && typeof body === "object") return Uint8Array.from(Object.values(body as Record<string, number>));
  return new Uint8Array();
}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  return Promise.race([
    p,
    new Promise<never>((_, reject) => setTimeout(() => reject(toolError("timeout", `no answer within ${ms} ms`)), ms).unref?.()),
  ]);
}

/** Listeners that appeared or went away between two polls, for `run`'s `service` events. */
export function diffListeners(before: VmListener[], after: VmListener[]): { started: VmListener[]; stopped: VmListener[] } {
  const key = (l: VmListener) => `${l.protocol}:${l.port}`;
  const b = new Set(before.map(key));
  const a = new Set(after.map(key));
  return { started: after.filter((l) => !b.has(key(l))), stopped: before.filter((l) => !a.has(key(l))) };
}

