using System.Net;
using Docker.DotNet;
using Docker.DotNet.Models;
using Microsoft.Extensions.Logging;
using static SandboxRunner.Boxes.Docker.DockerErrors;

namespace SandboxRunner.Boxes.Docker;

/// <summary>The networks an allowlist site creates for its egress.</summary>
internal sealed partial class DockerNetworks(DockerClient client, ILogger logger, ResourceLabels resourceLabels)
{
    public async Task CreateAsync(string name, bool isInternal, IReadOnlyDictionary<string, string> labels, CancellationToken cancellationToken)
    {
        await client.Networks.CreateNetworkAsync(
            new NetworksCreateParameters
            {
                Name = name, Driver = "bridge", Internal = isInternal, Labels = resourceLabels.StampOwned(labels),
            },
            cancellationToken);
        LogCreated(name, isInternal);
    }

    /// <summary>Attaches a container to a network under an alias other containers there can use.</summary>
    public async Task ConnectAsync(string network, string containerId, string alias, CancellationToken cancellationToken) =>
        await client.Networks.ConnectNetworkAsync(
            network,
            new NetworkConnectParameters { Container = containerId, EndpointConfig = new EndpointSettings { Aliases = [alias] } },
            cancellationToken);

    /// <summary>The network's IPv4 subnet (<c>172.18.0.0/16</c>), or null when the engine gives none.</summary>
    public async Task<string?> SubnetAsync(string name, CancellationToken cancellationToken)
    {
        var network = await client.Networks.InspectNetworkAsync(name, cancellationToken);
        return network.IPAM?.Config?.Select(c => c.Subnet).FirstOrDefault(s => !string.IsNullOrEmpty(s) && !s.Contains(':', StringComparison.Ordinal));
    }

    /// <summary>
    /// The gateway of the default bridge: where containers on it reach the engine's host. Asked only of an engine on
    /// this machine (a unix socket), so this machine's own addresses can stand in when the engine names none.
    /// </summary>
    public async Task<string?> BridgeGatewayAsync(CancellationToken cancellationToken)
    {
        var bridge = await client.Networks.InspectNetworkAsync("bridge", cancellationToken);
        return BridgeGateway.Of(bridge.IPAM?.Config, BridgeGateway.LocalAddresses());
    }

    /// <summary>Removes a network; one already gone is not an error.</summary>
    public async Task RemoveAsync(string name, CancellationToken cancellationToken)
    {
        try
        {
            await client.Networks.DeleteNetworkAsync(name, cancellationToken);
        }
        catch (DockerNetworkNotFoundException)
        {
        }
        catch (DockerApiException e) when (e.StatusCode == HttpStatusCode.NotFound)
        {
        }
    }

    /// <summary>Networks that <paramref name="selector"/> matches, with their labels.</summary>
    public async Task<IReadOnlyList<NetworkResponse>> ListAsync(LabelSelector selector, CancellationToken cancellationToken) =>
        (await client.Networks.ListNetworksAsync(new NetworksListParameters { Filters = LabelFilter(selector) }, cancellationToken)).ToList();

    [LoggerMessage(Level = LogLevel.Debug, Message = "network {Name} created (internal: {Internal})")]
    private partial void LogCreated(string name, bool @internal);
}
