using System.Net;
using Docker.DotNet;
using Docker.DotNet.Models;

namespace SandboxRunner.Boxes.Swarm;

/// <summary>
/// Which boxes the runner started. A box's container runs (at its gate) from the moment swarm places it, so the
/// task's state cannot say whether the box's command started; a tiny swarm config per started box can, for any
/// process that lists boxes. It carries the box's labels, so a run's removal takes it too.
/// </summary>
internal sealed class SwarmMarkers(DockerClient client)
{
    private const string Prefix = "sandbox-runner-started-";

    /// <summary>The label naming the service a marker belongs to.</summary>
    public const string ServiceLabel = "sandbox-runner.service";

    public async Task SetAsync(string serviceId, IReadOnlyDictionary<string, string> labels, CancellationToken cancellationToken)
    {
        try
        {
            await client.Configs.CreateConfigAsync(
                new SwarmCreateConfigParameters
                {
                    Config = new SwarmConfigSpec { Name = Prefix + serviceId, Labels = new Dictionary<string, string>(labels) { [ServiceLabel] = serviceId }, Data = "1"u8.ToArray() },
                },
                cancellationToken);
        }
        catch (DockerApiException e) when (e.StatusCode == HttpStatusCode.Conflict)
        {
        }
    }

    /// <summary>Removes a box's marker; never throws (a marker left behind goes with its run's removal or the orphan sweep).</summary>
    public async Task ClearAsync(string serviceId)
    {
        try
        {
            using var budget = new CancellationTokenSource(TimeSpan.FromSeconds(10));
            await client.Configs.RemoveConfigAsync(Prefix + serviceId, budget.Token);
        }
        catch (Exception e) when (e is DockerApiException or HttpRequestException or OperationCanceledException or IOException)
        {
        }
    }

    /// <summary>The services whose boxes have started (and not yet been seen to end).</summary>
    public async Task<IReadOnlySet<string>> StartedAsync(CancellationToken cancellationToken) =>
        (await client.Configs.ListConfigsAsync(cancellationToken))
        .Where(c => c.Spec?.Name?.StartsWith(Prefix, StringComparison.Ordinal) == true)
        .Select(c => c.Spec!.Name![Prefix.Length..])
        .ToHashSet(StringComparer.Ordinal);

    /// <summary>The markers <paramref name="selector"/> matches whose owner is gone when <paramref name="orphansOnly"/>; removes them, returns how many.</summary>
    public async Task<int> RemoveAsync(LabelSelector selector, bool orphansOnly, CancellationToken cancellationToken)
    {
        var removed = 0;
        foreach (var config in await client.Configs.ListConfigsAsync(cancellationToken))
        {
            var labels = config.Spec?.Labels is { } l ? new Dictionary<string, string>(l) : [];
            if (config.Spec?.Name?.StartsWith(Prefix, StringComparison.Ordinal) != true || !selector.Matches(labels)
                || orphansOnly && !Labels.HasGoneOwner(labels))
            {
                continue;
            }

            try
            {
                await client.Configs.RemoveConfigAsync(config.ID, cancellationToken);
                removed++;
            }
            catch (DockerApiException e) when (e.StatusCode == HttpStatusCode.NotFound)
            {
            }
        }

        return removed;
    }
}
