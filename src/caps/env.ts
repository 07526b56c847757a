/**
 * env.read is enforced on the host: the guest environment is built from the allowed names only, because agentOS's
 * own env scope does not hide variables passed to exec or sessions (notes/agentos-api.md §5).
 */

/** Variables the VM sets itself (HOME=/home/agentos, PATH=/opt/agentos/bin:...); a host value would break the guest. */
export const VM_OWNED_ENV = ["HOME", "USER", "LOGNAME", "PATH", "PWD", "OLDPWD", "SHELL", "SHLVL", "HOSTNAME", "_"];
