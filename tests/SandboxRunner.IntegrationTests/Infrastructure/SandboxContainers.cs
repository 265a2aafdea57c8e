using Docker.DotNet;
using Docker.DotNet.Models;
using SandboxRunner.Boxes;
using SandboxRunner.Boxes.Docker;

namespace SandboxRunner.IntegrationTests.Infrastructure;

/// <summary>
/// The task containers of given runs, straight from the engine. Filtered by run id, not just by label:
/// other test processes may be running tasks on the same engine at the same time.
/// </summary>
public sealed class SandboxContainers(DockerFixture docker) : IDisposable
{
    private readonly DockerClient _client = new DockerClientBuilder().WithEndpoint(docker.Engine.Endpoint).Build();

    /// <summary>
    /// Containers (any state) labelled <c>sandbox-runner.run</c> with one of <paramref name="runIds"/>: task
    /// containers and the runner's own helpers (egress proxy, network holders) alike.
    /// </summary>
    public Task<IReadOnlyList<string>> OfRunsAsync(IEnumerable<string> runIds) => ListAsync(runIds, runningOnly: false, tasksOnly: false);

    /// <summary>Running task containers (not the runner's helpers, which carry <c>sandbox-runner.role</c>) of <paramref name="runIds"/>.</summary>
    public Task<IReadOnlyList<string>> RunningTasksOfRunsAsync(IEnumerable<string> runIds) => ListAsync(runIds, runningOnly: true, tasksOnly: true);

    /// <summary>Running containers of <paramref name="runId"/> with <c>sandbox-runner.role</c> <paramref name="role"/> (e.g. <c>verify</c>).</summary>
    public async Task<IReadOnlyList<string>> RunningWithRoleAsync(string runId, string role)
    {
        var containers = await _client.Containers.ListContainersAsync(new ContainersListParameters
        {
            Filters = new Dictionary<string, IDictionary<string, bool>>
            {
                ["label"] = new Dictionary<string, bool> { [$"{Labels.Run}={runId}"] = true, [$"{Labels.Role}={role}"] = true },
                ["status"] = new Dictionary<string, bool> { ["running"] = true },
            },
        });
        return containers.Select(c => c.ID).ToList();
    }

    /// <summary>The run ids a repository has run folders for: every run a server made there (reviews included).</summary>
    public static IReadOnlyList<string> RunIdsOf(string repoPath)
    {
        var root = Path.Combine(repoPath, Runs.RunStore.FolderName);
        return Directory.Exists(root) ? Directory.EnumerateDirectories(root).Select(d => Path.GetFileName(d)).ToList() : [];
    }

    /// <summary>Networks (the per-run egress networks) labelled <c>sandbox-runner.run</c> with one of <paramref name="runIds"/>.</summary>
    public async Task<IReadOnlyList<string>> NetworksOfRunsAsync(IEnumerable<string> runIds)
    {
        var wanted = runIds.ToHashSet(StringComparer.Ordinal);
        if (wanted.Count == 0)
        {
            return [];
        }

        var networks = await _client.Networks.ListNetworksAsync(new NetworksListParameters
        {
            Filters = new Dictionary<string, IDictionary<string, bool>> { ["label"] = new Dictionary<string, bool> { [Labels.Run] = true } },
        });
        return networks
            .Where(n => n.Labels is not null && n.Labels.TryGetValue(Labels.Run, out var run) && wanted.Contains(run))
            .Select(n => n.Name)
            .ToList();
    }

    /// <summary>Proves no container or network of any run of the repository (or of <paramref name="moreRunIds"/>) is left.</summary>
    public async Task AssertNoneLeftAsync(string repoPath, params string[] moreRunIds)
    {
        var runIds = RunIdsOf(repoPath).Concat(moreRunIds).ToList();
        var left = await OfRunsAsync(runIds);
        Assert.True(left.Count == 0, $"containers left behind: {string.Join("; ", await DescribeAsync(left))}");
        var networks = await NetworksOfRunsAsync(runIds);
        Assert.True(networks.Count == 0, $"networks left behind: {string.Join(", ", networks)}");
    }

    /// <summary>Removes every container and network of <paramref name="runIds"/> (after a test has reported them left, so the next tests start clean).</summary>
    public async Task RemoveOfRunsAsync(IReadOnlyCollection<string> runIds)
    {
        foreach (var id in await OfRunsAsync(runIds))
        {
            await _client.Containers.RemoveContainerAsync(id, new ContainerRemoveParameters { Force = true, RemoveVolumes = true });
        }

        foreach (var network in await NetworksOfRunsAsync(runIds))
        {
            await _client.Networks.DeleteNetworkAsync(network);
        }
    }

    /// <summary>Each container as a failure should show it: id, role or task, state, and when it was made, started and ended.</summary>
    private async Task<IReadOnlyList<string>> DescribeAsync(IEnumerable<string> ids)
    {
        var described = new List<string>();
        foreach (var id in ids)
        {
            try
            {
                var c = await _client.Containers.InspectContainerAsync(id);
                var labels = c.Config?.Labels ?? new Dictionary<string, string>();
                var what = labels.TryGetValue(Labels.Role, out var role) ? $"role {role}" : labels.TryGetValue(Labels.Task, out var task) ? $"task {task}" : "no role or task";
                described.Add($"{id[..12]} ({what}, {c.State?.Status}, created {c.Created:HH:mm:ss.fff}, started {c.State?.StartedAt}, finished {c.State?.FinishedAt}, network {c.HostConfig?.NetworkMode})");
            }
            catch (DockerContainerNotFoundException)
            {
                described.Add($"{id[..12]} (gone by the time it was looked at)");
            }
        }

        return described;
    }

    private async Task<IReadOnlyList<string>> ListAsync(IEnumerable<string> runIds, bool runningOnly, bool tasksOnly)
    {
        var wanted = runIds.ToHashSet(StringComparer.Ordinal);
        if (wanted.Count == 0)
        {
            return [];
        }

        var filters = new Dictionary<string, IDictionary<string, bool>> { ["label"] = new Dictionary<string, bool> { [Labels.Run] = true } };
        if (runningOnly)
        {
            filters["status"] = new Dictionary<string, bool> { ["running"] = true };
        }

        var containers = await _client.Containers.ListContainersAsync(new ContainersListParameters { All = true, Filters = filters });
        return containers
            .Where(c => c.Labels is not null && c.Labels.TryGetValue(Labels.Run, out var run) && wanted.Contains(run))
            .Where(c => !tasksOnly || !c.Labels.ContainsKey(Labels.Role))
            .Select(c => c.ID)
            .ToList();
    }

    public void Dispose() => _client.Dispose();
}
