/**
 * The VM plan: policy + workspace or snapshot + host tools (+ agent software) → the VM's boot options. `run`
 * (src/heartbeat), `exec` (execWithPolicy) and `caps explain` (vmPermissions) all go through it.
 */
export { planVm, vmPermissions, workspaceLimits, type PlanInput, type VmPlan } from "./plan.ts";
export { execWithPolicy, type PolicyExecRequest } from "./exec.ts";
