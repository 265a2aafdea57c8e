using Docker.DotNet;
using Docker.DotNet.Models;
using SandboxRunner.Boxes.Docker;
using static SandboxRunner.Boxes.Docker.DockerErrors;

namespace SandboxRunner.Boxes.Swarm;

/// <summary>
/// What stands in for <c>--network none</c> on the swarm. A service cannot name the <c>none</c> network (20.10: "could
/// not find the corresponding predefined swarm network: network none not found"; swarm predefines only host and
/// bridge), and a service with no network gets its node's bridge, from where the node (and its engine) answers. So a
/// <c>none</c> box's task starts on this internal overlay (no gateway, no route off it, no host interface on it), and
/// the runner disconnects the container from it through the node's engine as soon as it runs, before its gate opens:
/// the agent's command only ever sees loopback. While parked, only the box's gate (the image's <c>sh</c> and
/// <c>sleep</c>) runs, and what else is on the overlay is other parked boxes' gates, which listen on nothing.
/// One network per backend (so per runner process), created at the first <c>none</c> box: no network is created or
/// removed per box or per run. It carries the runner's owner label and <see cref="Role"/>, never a repository or run:
/// the backend removes it when disposed, and any sweep removes one whose process is gone.
/// </summary>
internal sealed class SwarmParking(DockerClient manager, ResourceLabels labels) : IDisposable
{
    public const string Role = "park";

    private readonly SemaphoreSlim _creating = new(1, 1);
    private string? _id;

    public string Name { get; } = "sandbox-runner-park-" + Guid.NewGuid().ToString("N")[..12];

    /// <summary>The network's id, creating it on first use.</summary>
    public async Task<string> EnsureAsync(CancellationToken cancellationToken)
    {
        if (Volatile.Read(ref _id) is { } known)
        {
            return known;
        }

        await _creating.WaitAsync(cancellationToken);
        try
        {
            if (_id is null)
            {
                var created = await manager.Networks.CreateNetworkAsync(
                    new NetworksCreateParameters
                    {
                        Name = Name,
                        Driver = "overlay",
                        Internal = true,
                        Labels = labels.StampOwned(new Dictionary<string, string> { [Labels.Role] = Role }),
                    },
                    cancellationToken);
                Volatile.Write(ref _id, created.ID);
            }

            return _id!;
        }
        catch (DockerApiException e)
        {
            throw Failure($"creating the internal overlay network {Name} (where a box of network policy none waits for its gate)", e);
        }
        finally
        {
            _creating.Release();
        }
    }

    /// <summary>
    /// Takes the box's container off the parking network and proves it is on no network at all (loopback only), or
    /// throws: a box that might still have a network is never started.
    /// </summary>
    public async Task DisconnectAsync(NodeEngine engine, string containerId, CancellationToken cancellationToken)
    {
        var network = _id ?? throw new InvalidOperationException("a box was parked before its parking network was created");
        try
        {
            await engine.Client.Networks.DisconnectNetworkAsync(network, new NetworkDisconnectParameters { Container = containerId, Force = true }, cancellationToken);
            var attached = (await engine.Client.Containers.InspectContainerAsync(containerId, cancellationToken)).NetworkSettings?.Networks;
            if (attached is { Count: > 0 })
            {
                throw new InvalidOperationException(
                    $"the box's container {containerId[..12]} is still on network(s) {string.Join(", ", attached.Keys)} after leaving {Name}; network policy none needs it on none");
            }
        }
        catch (DockerApiException e)
        {
            throw Failure($"taking the box's container {containerId[..12]} off its parking network {Name} (network policy none)", e);
        }
    }

    /// <summary>Removes the network once no task is on it; never throws.</summary>
    public async Task RemoveAsync(SwarmBackend swarm, CancellationToken cancellationToken)
    {
        if (_id is null)
        {
            return;
        }

        try
        {
            await swarm.RemoveNetworkWhenFreeAsync(_id, cancellationToken);
        }
        catch (Exception e) when (e is HttpRequestException or IOException or TimeoutException)
        {
            // A manager that no longer answers keeps it; the next sweep of a runner takes it (its owner is gone).
        }
    }

    /// <summary>Whether <paramref name="network"/> is a parking network whose creating process is gone.</summary>
    public static bool IsOrphaned(NetworkResponse network) =>
        network.Labels is { } l && l.TryGetValue(Labels.Role, out var role) && role == Role && !l.ContainsKey(Labels.Run) && Labels.HasGoneOwner(l);

    public void Dispose() => _creating.Dispose();
}
