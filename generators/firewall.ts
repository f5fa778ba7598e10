// Firewall openings a node's modules add: a TCP port for some source addresses only. Rendered
// both ways, because NixOS refuses networking.firewall.extraCommands (iptables) on a node whose
// firewall runs on nftables (an assertion in nixpkgs' firewall-nftables module): the module picks
// with networking.nftables.enable. Addresses are IPv4 or host names (the fleet schema's pattern).
import { escapeShellArg } from './escape.js';

export interface Opening {
  address: string;
  port: number;
}

export function firewallRules(openings: Opening[]): { iptables: string[]; nftables: string[] } {
  return {
    iptables: openings.map((o) => `iptables -A nixos-fw -p tcp -s ${escapeShellArg(o.address)} --dport ${o.port} -j nixos-fw-accept`),
    nftables: openings.map((o) => `ip saddr ${o.address} tcp dport ${o.port} accept`),
  };
}
