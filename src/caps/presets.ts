/**
 * Presets are plain policy documents (src/caps/presets/*.json), imported statically so the compiled binary carries
 * them. `caps explain --preset NAME` shows one; `--preset NAME` or `"extends": "NAME"` starts from one.
 */
import networked from "./presets/networked.json";
import none from "./presets/none.json";
import readOnly from "./presets/read-only.json";
import workspaceWrite from "./presets/workspace-write.json";

export const PRESETS = {
  "workspace-write": workspaceWrite,
  "read-only": readOnly,
  networked,
  none,
} as const satisfies Record<string, { version: number; description: string }>;

export type PresetName = keyof typeof PRESETS;
export const PRESET_NAMES = Object.keys(PRESETS) as [PresetName, ...PresetName[]];

export function isPresetName(name: string): name is PresetName {
  return Object.hasOwn(PRESETS, name);
}
