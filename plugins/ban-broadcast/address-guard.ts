import { BlockList, isIP } from 'node:net';
import dns from 'node:dns';

/**
 * Server-side request forgery defence: a webhook URL is operator config, but a broker must not be
 * turned into a probe of its own network (cloud metadata at 169.254.169.254, admin ports on
 * loopback). Every address a URL resolves to is checked, and the connection is made to the
 * checked address (the lookup below feeds the socket), so DNS rebinding between check and connect
 * cannot slip through. Addresses listed in `allow` (IPs or CIDRs) are let through: tests and
 * intranet deployments opt in explicitly.
 */
const PRIVATE: [string, number, 'ipv4' | 'ipv6'][] = [
  ['0.0.0.0', 8, 'ipv4'],
  ['10.0.0.0', 8, 'ipv4'],
  ['100.64.0.0', 10, 'ipv4'],
  ['127.0.0.0', 8, 'ipv4'],
  ['169.254.0.0', 16, 'ipv4'],
  ['172.16.0.0', 12, 'ipv4'],
  ['192.0.0.0', 24, 'ipv4'],
  ['192.168.0.0', 16, 'ipv4'],
  ['198.18.0.0', 15, 'ipv4'],
  ['224.0.0.0', 3, 'ipv4'],
  ['::', 128, 'ipv6'],
  ['::1', 128, 'ipv6'],
  ['fc00::', 7, 'ipv6'],
  ['fe80::', 10, 'ipv6'],
  ['ff00::', 8, 'ipv6'],
];

export class PrivateAddressRefused extends Error {
  override readonly name = 'PrivateAddressRefused';
  readonly code = 'private_address_refused';
  constructor(readonly address: string) {
    super(`webhook address ${address} is private and not allowed by config`);
  }
}

export class AddressGuard {
  private readonly blocked = new BlockList();
  private readonly allowed = new BlockList();

  constructor(allow: string[] = []) {
    for (const [net, prefix, type] of PRIVATE) this.blocked.addSubnet(net, prefix, type);
    for (const a of allow) {
      const [ip, bits] = a.split('/');
      const type = isIP(ip) === 6 ? 'ipv6' : 'ipv4';
      if (bits !== undefined) this.allowed.addSubnet(ip, Number(bits), type);
      else this.allowed.addAddress(ip, type);
    }
  }

  /** True when connecting to `ip` is fine. IPv4-mapped IPv6 is checked as the IPv4 it maps. */
  permits(ip: string): boolean {
    const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(ip);
    const addr = mapped ? mapped[1] : ip;
    const type = isIP(addr) === 6 ? 'ipv6' : 'ipv4';
    if (this.allowed.check(addr, type)) return true;
    return !this.blocked.check(addr, type);
  }

  /** Throws PrivateAddressRefused for a literal IP host that is not permitted. */
  checkHost(hostname: string): void {
    const h = hostname.replace(/^\[|\]$/g, '');
    if (isIP(h) && !this.permits(h)) throw new PrivateAddressRefused(h);
  }

  /** A `net.connect` lookup that refuses a name resolving to any non-permitted address. */
  readonly lookup = (
    hostname: string,
    options: dns.LookupOptions,
    callback: (err: NodeJS.ErrnoException | null, address: string | dns.LookupAddress[], family?: number) => void,
  ): void => {
    dns.lookup(hostname, { ...options, all: true }, (err, addresses) => {
      if (err) return callback(err, '', 0);
      const list = addresses as dns.LookupAddress[];
      const bad = list.find((a) => !this.permits(a.address));
      if (bad) return callback(Object.assign(new PrivateAddressRefused(bad.address), { errno: 0 }) as NodeJS.ErrnoException, '', 0);
      if (options.all) return callback(null, list);
      callback(null, list[0].address, list[0].family);
    });
  };
}
