/**
 * Routes a sidecar's requests to the VM they belong to.
 *
 * Why: agentOS 0.2.21 keeps ONE request handler per sidecar process (`SidecarProtocolClient.sidecarRequestHandler`,
 * set through `setSidecarRequestHandler`), and every `AgentOs.create` on that sidecar replaces it with a closure over
 * its own VM (`_installSidecarRequestHandler`: that VM's filesystem view, host functions and ACP callbacks). The
 * sidecar's requests do carry their VM (`ownership.vm_id`), but nothing looks at it, so on a shared sidecar every VM's
 * js_bridge filesystem calls, host-function calls (`host_callback`) and ACP callbacks (`fs/*`, `terminal/*`) were
 * answered by the VM created last: one heartbeat read and wrote another's workspace, and ran its host tools.
 *
 * Here the sidecar's handler is replaced once by a dispatcher that looks at `ownership.vm_id`: a VM routed through
 * `routeVm` gets its own handler back (agentOS's, captured by re-running its installer), and the js_bridge calls for
 * a mount registered with `addMount` (boot-time or runtime, keyed by VM and mount path) are answered by our driver
 * here. A request for a VM that is not routed (not yet booted, or already closed) is refused, never answered by
 * another VM. So every VM on a sidecar must come through bootVm (src/runtime/vm.ts): one created with AgentOs.create
 * directly on a routed sidecar would get its requests refused. This touches agentOS internals (`_sidecarClient`, `_sidecarVm`, `_installSidecarRequestHandler`), checked
 * at run time so that a changed agentOS fails the boot clearly instead of routing wrongly.
 */
import type { AgentOs, VirtualFileSystem } from "@rivet-dev/agentos-core";
import { runtimeError } from "../errors.ts";
import { logger } from "../log.ts";

interface SidecarRequest {
  ownership: { scope: string; vm_id?: string };
  payload: { type: string; [k: string]: unknown };
}
type Handler = (request: SidecarRequest) => Promise<unknown> | unknown;
interface SidecarClient {
  setSidecarRequestHandler(handler: Handler): void;
}
interface VmInternals {
  _sidecarClient?: SidecarClient;
  _sidecarVm?: { vmId?: unknown };
  _installSidecarRequestHandler?: () => void;
}

interface RoutedVm {
  handler: Handler;
  mounts: Map<string, { fs: VirtualFileSystem; readOnly: boolean }>;
}

class Router {
  readonly vms = new Map<string, RoutedVm>();
  /** The handler agentOS's installer last set (captured instead of replacing the dispatcher). */
  installed: Handler | undefined;

  constructor(client: SidecarClient) {
    const set = client.setSidecarRequestHandler.bind(client);
    client.setSidecarRequestHandler = (h) => {
      this.installed = h;
    };
    set((request) => this.dispatch(request));
  }

  dispatch(request: SidecarRequest): Promise<unknown> | unknown {
    const id = request.ownership?.scope === "vm" ? request.ownership.vm_id : undefined;
    const vm = id === undefined ? undefined : this.vms.get(id);
    if (!vm) {
      logger.debug(`sidecar router: refused a ${request.payload.type} request for ${id ?? request.ownership?.scope} (no such VM routed)`);
      throw new Error(`no routed VM for a ${request.payload.type} request (${id ?? request.ownership?.scope})`);
    }
    if (request.payload.type === "js_bridge_call") {
      const mount = vm.mounts.get(String(request.payload.mount_id));
      if (mount) return answerBridgeCall(mount.fs, mount.readOnly, request.payload);
    }
    return vm.handler(request);
  }
}

const routers = new WeakMap<SidecarClient, Router>();

export interface VmRoute {
  readonly vmId: string;
  /** Answer this VM's js_bridge calls for `guestPath` with `fs` (register before the mount exists in the VM). */
  addMount(guestPath: string, fs: VirtualFileSystem, readOnly: boolean): void;
  removeMount(guestPath: string): void;
  /** The VM is gone: its requests are refused from now on. */
  close(): void;
}

/** Route the sidecar's requests for this VM (call once, right after AgentOs.create, before the VM runs anything). */
export function routeVm(vm: AgentOs): VmRoute {
  const internals = vm as unknown as VmInternals;
  const client = internals._sidecarClient;
  const vmId = internals._sidecarVm?.vmId;
  if (!client || typeof client.setSidecarRequestHandler !== "function" || typeof vmId !== "string" || typeof internals._installSidecarRequestHandler !== "function") {
    throw runtimeError(
      "this agentOS version does not expose what the VM routing needs (its sidecar client, VM id, request handler)",
      "use the agentOS version this build pins (paperclip-aos doctor)",
      "agentos_incompatible",
    );
  }
  let router = routers.get(client);
  if (!router) routers.set(client, (router = new Router(client)));
  // Re-run the VM's own installer: it builds the same handler agentOS installed, and the router captures it.
  router.installed = undefined;
  internals._installSidecarRequestHandler.call(vm);
  const handler = router.installed as Handler | undefined;
  if (!handler) throw runtimeError("agentOS did not install a request handler for the VM", "use the agentOS version this build pins", "agentos_incompatible");
  const routed: RoutedVm = { handler, mounts: new Map() };
  const r = router;
  r.vms.set(vmId, routed);
  return {
    vmId,
    addMount: (guestPath, fs, readOnly) => routed.mounts.set(guestPath.replace(/\/+$/, "") || "/", { fs, readOnly }),
    removeMount: (guestPath) => routed.mounts.delete(guestPath.replace(/\/+$/, "") || "/"),
    close: () => {
      if (r.vms.get(vmId) === routed) r.vms.delete(vmId);
    },
  };
}

// ---- js_bridge calls, answered by our driver ----

type BridgeArgs = Record<string, unknown>;

function str(args: BridgeArgs, field: string): string {
  const v = args[field];
  if (typeof v !== "string") throw new Error(`js_bridge args.${field} must be a string`);
  return v;
}

function num(args: BridgeArgs, field: string): number {
  const v = args[field];
  if (typeof v !== "number" || !Number.isFinite(v)) throw new Error(`js_bridge args.${field} must be a number`);
  return v;
}

function bytes(args: BridgeArgs, field: string): Uint8Array {
  const v = args[field];
  if (typeof v === "string") return new Uint8Array(Buffer.from(v, "base64"));
  if (Array.isArray(v) && v.every((b) => Number.isInteger(b) && b >= 0 && b <= 255)) return new Uint8Array(v);
  throw new Error(`js_bridge args.${field} must be base64 bytes`);
}

const WRITES = new Set(["writeFile", "createDir", "mkdir", "removeFile", "removeDir", "rename", "symlink", "link", "chmod", "chown", "utimes", "truncate", "pwrite"]);

/**
 * One js_bridge call on a mount, with the wire shapes of agentOS 0.2.21's own handler (`handleJsBridgeCall` in
 * agent-os.js): paths are relative to the mount, file contents travel as base64, and an error's message (errno first)
 * is what the sidecar turns back into the guest's errno. pwrite goes to the driver as a pwrite (agentOS's own view
 * rewrites the whole file for it).
 */
export async function answerBridgeCall(fs: VirtualFileSystem, readOnly: boolean, call: Record<string, unknown>): Promise<Record<string, unknown>> {
  const callId = call.call_id;
  try {
    const args = call.args;
    if (!args || typeof args !== "object" || Array.isArray(args)) throw new Error("js_bridge args must be an object");
    const a = args as BridgeArgs;
    const op = String(call.operation);
    if (readOnly && WRITES.has(op)) throw Object.assign(new Error(`EROFS: read-only file system, ${op}`), { code: "EROFS" });
    const p = () => str(a, "path");
    let result: unknown;
    switch (op) {
      case "readFile":
        result = Buffer.from(await fs.readFile(p())).toString("base64");
        break;
      case "readDir":
        result = await fs.readDir(p());
        break;
      case "readDirWithTypes":
        result = await fs.readDirWithTypes(p());
        break;
      case "writeFile":
        await fs.writeFile(p(), bytes(a, "content"));
        break;
      case "createDir":
        await fs.createDir(p());
        break;
      case "mkdir":
        await fs.mkdir(p(), { recursive: a.recursive !== false });
        break;
      case "exists":
        result = await fs.exists(p());
        break;
      case "stat":
        result = await fs.stat(p());
        break;
      case "lstat":
        result = await fs.lstat(p());
        break;
      case "removeFile":
        await fs.removeFile(p());
        break;
      case "removeDir":
        await fs.removeDir(p());
        break;
      case "rename":
        await fs.rename(str(a, "oldPath"), str(a, "newPath"));
        break;
      case "realpath":
        result = await fs.realpath(p());
        break;
      case "symlink":
        await fs.symlink(str(a, "target"), str(a, "linkPath"));
        break;
      case "readlink":
        result = await fs.readlink(p());
        break;
      case "link":
        await fs.link(str(a, "oldPath"), str(a, "newPath"));
        break;
      case "chmod":
        await fs.chmod(p(), num(a, "mode"));
        break;
      case "chown":
        await fs.chown(p(), num(a, "uid"), num(a, "gid"), { followSymlinks: a.followSymlinks !== false });
        break;
      case "utimes":
        await fs.utimes(p(), num(a, "atimeMs"), num(a, "mtimeMs"));
        break;
      case "truncate":
        await fs.truncate(p(), num(a, "length"));
        break;
      case "pread":
        result = Buffer.from(await fs.pread(p(), num(a, "offset"), num(a, "length"))).toString("base64");
        break;
      case "pwrite":
        await fs.pwrite(p(), num(a, "offset"), bytes(a, "content"));
        break;
      default:
        throw new Error(`Unsupported js_bridge operation: ${op}`);
    }
    return { type: "js_bridge_result", call_id: callId, ...(result === undefined ? {} : { result }) };
  } catch (e) {
    return { type: "js_bridge_result", call_id: callId, error: e instanceof Error ? e.message : String(e) };
  }
}
