using Docker.DotNet;
using SandboxRunner.Boxes.Docker;

namespace SandboxRunner.IntegrationTests.Infrastructure;

/// <summary>The host's address on an engine's default bridge, where containers reach servers the tests start.</summary>
public static class HostBridge
{
    /// <summary>As the runner finds it (an engine restarted with its bridge in place names no gateway).</summary>
    public static async Task<string> GatewayAsync(DockerClient client)
    {
        var config = (await client.Networks.InspectNetworkAsync("bridge")).IPAM?.Config;
        return BridgeGateway.Of(config, BridgeGateway.LocalAddresses())
            ?? throw new InvalidOperationException($"the default bridge ({string.Join(", ", config?.Select(c => c.Subnet) ?? [])}) has no IPv4 address for the host");
    }
}
