/**
 * Our store behind agentOS's own extension point for layered filesystems: `LayerStore` (layers.d.ts) with an
 * `OverlayMountConfig` ({path, filesystem: {type: "overlay", store, lowers}}). agentOS asks the store for a writable
 * upper layer and an overlay over the lower layer handles, and mounts the result through its js_bridge plugin.
 *
 * Why not `rootFilesystem.lowers` (snapshot exports): agentOS sends lowers inline in the create-VM request, and the
 * whole request is capped (measured on 0.2.21: about 7 MB of export JSON, so about 5 MB of file content, for all
 * lowers together; 8.4 MB fails with ERR_AGENTOS_TERMINAL_RESPONSE_LIMIT, 32 MiB with "BareError: too large
 * buffer"). Layers served through the mount have no size limit, open in milliseconds and are read lazily.
 */
import type { LayerStore, SnapshotImportSource, SnapshotLayerHandle, WritableLayerHandle } from "@rivet-dev/agentos-core";
import { runtimeError } from "../errors.ts";
import { normalizeRel } from "./format.ts";
import { LayerReader, writeLayer, type LayerInput } from "./layer.ts";
import { mergeLayers, SnapshotOverlay, type OverlayOptions } from "./overlay.ts";
import type { SnapshotStore } from "./store.ts";

export const STORE_ID = "paperclip-aos-snapshots";

export class AosLayerStore implements LayerStore {
  readonly storeId = STORE_ID;
  private readonly readers = new Map<string, LayerReader>();
  private readonly overlays = new Map<string, SnapshotOverlay>();
  private uppers = 0;

  constructor(
    private readonly store: SnapshotStore,
    private readonly overlayOptions: OverlayOptions,
  ) {}

  /** Open (and check) a stored layer; the integrity error is thrown here, before the VM boots. */
  async openSnapshotLayer(layerId: string): Promise<SnapshotLayerHandle> {
    this.reader(layerId);
    return { kind: "snapshot", storeId: this.storeId, layerId };
  }

  reader(layerId: string): LayerReader {
    let r = this.readers.get(layerId);
    if (!r) this.readers.set(layerId, (r = new LayerReader(layerId, this.store.layerPath(layerId))));
    return r;
  }

  async createWritableLayer(): Promise<WritableLayerHandle> {
    const layerId = `upper-${process.pid}-${++this.uppers}`;
    return { kind: "writable", storeId: this.storeId, layerId, leaseId: layerId };
  }

  createOverlayFilesystem(
    options: { mode?: "ephemeral"; upper: WritableLayerHandle; lowers: SnapshotLayerHandle[] } | { mode: "read-only"; lowers: SnapshotLayerHandle[] },
  ) {
    const lowers = options.lowers.map((h) => this.reader(h.layerId));
    const overlay = new SnapshotOverlay(mergeLayers(lowers), this.overlayOptions);
    if ("upper" in options && options.upper) this.overlays.set(options.upper.layerId, overlay);
    return overlay as unknown as ReturnType<LayerStore["createOverlayFilesystem"]>;
  }

  /** The view agentOS created for an upper layer (changes.ts diffs it at the end of a run). */
  overlayFor(upper: string): SnapshotOverlay | undefined {
    return this.overlays.get(upper);
  }

  /** The overlay made last (a run boots one VM; if it boots again, the last view is the one that counts). */
  latestOverlay(): SnapshotOverlay | undefined {
    return [...this.overlays.values()].at(-1);
  }

  /** agentOS's export format (vm.filesystem.export()) as one stored layer. */
  async importSnapshot(source: SnapshotImportSource): Promise<SnapshotLayerHandle> {
    const src = source.source as { format?: string; filesystem?: { entries?: unknown[] } };
    if (source.kind !== "snapshot-export" || src?.format !== "agentos-filesystem-snapshot-v1" || !Array.isArray(src.filesystem?.entries)) {
      throw runtimeError("only agentos-filesystem-snapshot-v1 exports can be imported", undefined, "snapshot_import_unsupported");
    }
    const byPath = new Map<string, LayerInput>();
    for (const raw of src.filesystem.entries as { path: string; type: string; mode: string | number; content?: string; encoding?: string; target?: string }[]) {
      const p = normalizeRel(raw.path);
      const m = (typeof raw.mode === "number" ? raw.mode : parseInt(raw.mode, 8)) & 0o7777;
      const mt = Date.now();
      if (raw.type === "directory") byPath.set(p, { p, t: "d", m, mt });
      else if (raw.type === "symlink") byPath.set(p, { p, t: "l", m, mt, l: raw.target ?? "" });
      else byPath.set(p, { p, t: "f", m, mt, data: Buffer.from(raw.content ?? "", raw.encoding === "base64" ? "base64" : "utf8") });
    }
    const inputs = [...byPath.values()].sort((a, b) => (a.p < b.p ? -1 : a.p > b.p ? 1 : 0));
    const tmp = this.store.tmpPath("import");
    const layer = await writeLayer(tmp, inputs);
    this.store.commitLayer(tmp, layer.id);
    return { kind: "snapshot", storeId: this.storeId, layerId: layer.id };
  }

  /** Sealing is done by commitChanges (a diff against the lowers, with whiteouts); agentOS never calls this itself. */
  async sealLayer(): Promise<SnapshotLayerHandle> {
    throw runtimeError("seal a run's changes with --commit-snapshot", undefined, "snapshot_seal_unsupported");
  }

  dispose(): void {
    for (const r of this.readers.values()) r.close();
    this.readers.clear();
    this.overlays.clear();
  }
}
