using System.Net;
using System.Net.NetworkInformation;
using System.Net.Sockets;
using Docker.DotNet.Models;

namespace SandboxRunner.Boxes.Docker;

/// <summary>
/// The host's address on Docker's default bridge. An engine restarted while its bridge interface (<c>docker0</c>)
/// still exists leaves the gateway out of the network's IPAM config and keeps only the subnet; the address is then
/// the one this machine holds inside that subnet. Without it the engine-exposure check had nothing to probe and
/// passed an engine that answers plain TCP on the bridge.
/// </summary>
internal static class BridgeGateway
{
    /// <summary>The host's address on the bridge whose IPAM config is <paramref name="configs"/> (its IPv4 entry); null when it has none.</summary>
    public static string? Of(IEnumerable<IPAMConfig>? configs, IEnumerable<IPAddress> local)
    {
        var ipv4 = configs?.FirstOrDefault(c => !string.IsNullOrEmpty(c.Subnet) && !c.Subnet.Contains(':', StringComparison.Ordinal));
        return Pick(ipv4?.Gateway, ipv4?.Subnet, local);
    }

    /// <summary>
    /// <paramref name="gateway"/> when the engine names one; otherwise the address of <paramref name="local"/> inside
    /// <paramref name="subnet"/>, or failing that the subnet's first address (what Docker gives a bridge it makes).
    /// </summary>
    public static string? Pick(string? gateway, string? subnet, IEnumerable<IPAddress> local)
    {
        if (!string.IsNullOrEmpty(gateway) && !gateway.Contains(':', StringComparison.Ordinal))
        {
            return gateway;
        }

        if (subnet is null || !IPNetwork.TryParse(subnet, out var network) || network.BaseAddress.AddressFamily != AddressFamily.InterNetwork)
        {
            return null;
        }

        if (local.FirstOrDefault(a => a.AddressFamily == AddressFamily.InterNetwork && network.Contains(a)) is { } own)
        {
            return own.ToString();
        }

        var first = network.BaseAddress.GetAddressBytes();
        first[3]++;
        return network.PrefixLength < 31 ? new IPAddress(first).ToString() : null;
    }

    /// <summary>This machine's unicast addresses, every interface.</summary>
    public static IEnumerable<IPAddress> LocalAddresses() =>
        NetworkInterface.GetAllNetworkInterfaces().SelectMany(i => i.GetIPProperties().UnicastAddresses).Select(u => u.Address);
}
