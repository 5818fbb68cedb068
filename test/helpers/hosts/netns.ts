import { execFileSync, spawn, spawnSync, type ChildProcess, type SpawnOptions } from 'node:child_process';

/**
 * Separate network hosts on one Linux machine: a network namespace per host, each with one veth pair
 * whose other end is a port of a bridge inside a hub namespace (a switch). The root namespace gets no
 * address and no link, so processes in the hosts can reach each other and their own loopback, nothing
 * else (no default route). Needs root and iproute2's `ip netns`.
 *
 * Namespace names are `tessel-hosts-<owner pid>-<n>-<host>`; {@link cleanStaleTopologies} removes those
 * whose owner is gone (a run killed before its teardown).
 */
export const NETNS_PREFIX = 'tessel-hosts-';

/** The hosts' subnet (private, and reachable only from inside the hub). */
const SUBNET = '10.213.7';

export interface Host { name: string; ns: string; address: string }

/** Why namespaces cannot be made here, or undefined when they can (root, `ip netns` works). */
export function netnsUnavailable(): string | undefined {
  if (process.platform !== 'linux') return `not Linux (${process.platform})`;
  if (process.getuid?.() !== 0) return 'not root (ip netns needs CAP_SYS_ADMIN)';
  const probe = `${NETNS_PREFIX}${process.pid}-probe`;
  const add = spawnSync('ip', ['netns', 'add', probe], { encoding: 'utf8' });
  if (add.error) return `ip not found (${add.error.message}); install iproute2`;
  if (add.status !== 0) return `ip netns add failed: ${add.stderr.trim()}`;
  spawnSync('ip', ['netns', 'del', probe]);
  return undefined;
}

const ip = (...args: string[]) => execFileSync('ip', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });

function namespaces(): string[] {
  return ip('netns', 'list').split('\n').map((l) => l.split(' ')[0]).filter(Boolean);
}

/** Process ids running inside a namespace (`ip netns pids`). */
export function pidsIn(ns: string): number[] {
  const r = spawnSync('ip', ['netns', 'pids', ns], { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.split('\n').filter(Boolean).map(Number) : [];
}

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

/** kill -9 every process in `ns` and wait (at most `timeoutMs`) until none is left. */
export async function killAllIn(ns: string, timeoutMs = 10_000): Promise<number[]> {
  const killed = pidsIn(ns);
  for (const pid of killed) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  const deadline = Date.now() + timeoutMs;
  while (pidsIn(ns).length > 0) {
    if (Date.now() > deadline) throw new Error(`processes ${pidsIn(ns).join(', ')} in ${ns} survived SIGKILL for ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
  return killed;
}

function deleteNamespace(ns: string): void {
  for (const pid of pidsIn(ns)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  spawnSync('ip', ['netns', 'del', ns]);
}

/**
 * Removes the namespaces (and so their links, which die with them) of earlier topologies whose owning
 * process no longer runs; another test's or benchmark's live topology is left alone.
 */
export function cleanStaleTopologies(): string[] {
  const stale = namespaces().filter((ns) => {
    const m = ns.startsWith(NETNS_PREFIX) ? /^(\d+)-/.exec(ns.slice(NETNS_PREFIX.length)) : null;
    return m !== null && Number(m[1]) !== process.pid && !alive(Number(m[1]));
  });
  for (const ns of stale) deleteNamespace(ns);
  return stale;
}

let topologies = 0;

/** Hosts on one switch; {@link destroy} removes every namespace, link and process of it. */
export class Topology {
  /** The hosts' subnet in CIDR notation. */
  readonly subnet = `${SUBNET}.0/24`;
  readonly hosts = new Map<string, Host>();
  private readonly hub: string;
  private readonly prefix: string;
  private readonly children: ChildProcess[] = [];
  private readonly onExit = () => this.destroySync();

  private constructor(prefix: string) {
    this.prefix = prefix;
    this.hub = `${prefix}hub`;
  }

  /** Creates the hub (a bridge in its own namespace) and one namespace per host name, in order .10, .11, … */
  static create(hostNames: string[]): Topology {
    cleanStaleTopologies();
    const t = new Topology(`${NETNS_PREFIX}${process.pid}-${topologies++}-`);
    process.once('exit', t.onExit);
    try {
      ip('netns', 'add', t.hub);
      ip('-n', t.hub, 'link', 'add', 'br0', 'type', 'bridge');
      ip('-n', t.hub, 'link', 'set', 'br0', 'up');
      hostNames.forEach((name, i) => t.addHost(name, `${SUBNET}.${10 + i}`));
    } catch (e) {
      t.destroySync();
      throw e;
    }
    return t;
  }

  private addHost(name: string, address: string): void {
    const ns = `${this.prefix}${name}`;
    ip('netns', 'add', ns);
    // IPv4 only on the host's link (lo keeps ::1): its one address is the one given here, no link-local IPv6.
    ip('netns', 'exec', ns, 'sh', '-c', 'echo 1 > /proc/sys/net/ipv6/conf/default/disable_ipv6');
    // The host's end is eth0 inside its namespace; the switch port, p-<name>, stays in the hub.
    const port = `p-${name}`.slice(0, 15);
    ip('-n', this.hub, 'link', 'add', port, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns);
    ip('-n', this.hub, 'link', 'set', port, 'master', 'br0', 'up');
    ip('-n', ns, 'link', 'set', 'lo', 'up');
    ip('-n', ns, 'addr', 'add', `${address}/24`, 'dev', 'eth0');
    ip('-n', ns, 'link', 'set', 'eth0', 'up');
    this.hosts.set(name, { name, ns, address });
  }

  host(name: string): Host {
    const h = this.hosts.get(name);
    if (!h) throw new Error(`no host ${name} in this topology`);
    return h;
  }

  /** Spawns `cmd args` on host `name` (`ip netns exec`, which execs: the child's pid is the command's). */
  spawn(name: string, cmd: string, args: string[], opts: SpawnOptions = {}): ChildProcess {
    const child = spawn('ip', ['netns', 'exec', this.host(name).ns, cmd, ...args], opts);
    this.children.push(child);
    return child;
  }

  /** Pulls the host's cable: its switch port goes down, so its packets go nowhere and none reach it. */
  cut(name: string): void {
    ip('-n', this.hub, 'link', 'set', `p-${name}`.slice(0, 15), 'down');
  }

  /** kill -9 of every process on host `name`; resolves with their pids once all are gone. */
  killHost(name: string): Promise<number[]> {
    return killAllIn(this.host(name).ns);
  }

  /** Host `name`'s routes off loopback (IPv4 and IPv6, every table), one `<destination> dev <device>` each. */
  routes(name: string): string[] {
    const all = (family: string) => JSON.parse(ip('-n', this.host(name).ns, '-j', family, 'route', 'show', 'table', 'all')) as { dst: string; dev: string; type?: string }[];
    return [...all('-4'), ...all('-6')]
      .filter((r) => r.dev !== 'lo' && !['local', 'broadcast', 'multicast', 'anycast'].includes(r.type ?? 'unicast'))
      .map((r) => `${r.dst} dev ${r.dev}`);
  }

  /** Process ids on host `name`. */
  pids(name: string): number[] {
    return pidsIn(this.host(name).ns);
  }

  /** Kills every process on every host and removes all namespaces (their veths go with them). */
  async destroy(): Promise<void> {
    for (const h of this.hosts.values()) await killAllIn(h.ns).catch(() => undefined);
    this.destroySync();
  }

  private destroySync(): void {
    for (const c of this.children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    for (const h of this.hosts.values()) deleteNamespace(h.ns);
    deleteNamespace(this.hub);
    process.removeListener('exit', this.onExit);
  }
}
