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
import type { LayerStore, SnapshotLayerHandle, WritableLayerHandle } from "@rivet-dev/agentos-core";
import { runtimeError } from "../errors.ts";
import { LayerReader } from "./layer.ts";
import { mergeLayers, SnapshotOverlay, type OverlayOptions } from "./overlay.ts";
import type { SnapshotStore } from "./store.ts";

export class AosLayerStore implements LayerStore {
  readonly storeId = "paperclip-aos-snapshots";
  private readonly readers = new Map<string, LayerReader>();
  /** The overlay made last for a run (a run boots one VM; if it boots again, the last view is the one that counts). */
  private latest: SnapshotOverlay | undefined;
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
    if ("upper" in options && options.upper) this.latest = overlay;
    return overlay;
  }

  latestOverlay(): SnapshotOverlay | undefined {
    return this.latest;
  }

  /**
   * agentOS calls neither of these for a mount (it asks only for a writable layer and the overlay): layers come from
   * `snapshot build`, and a run's changes are sealed by commitChanges (a diff against the lowers, with whiteouts).
   */
  async importSnapshot(): Promise<SnapshotLayerHandle> {
    throw runtimeError("import a tree with 'paperclip-aos snapshot build'", undefined, "snapshot_import_unsupported");
  }

  async sealLayer(): Promise<SnapshotLayerHandle> {
    throw runtimeError("seal a run's changes with --commit-snapshot", undefined, "snapshot_seal_unsupported");
  }

  dispose(): void {
    for (const r of this.readers.values()) r.close();
    this.readers.clear();
    this.latest = undefined;
  }
}
